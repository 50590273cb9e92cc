"""From a caller's token to a ``Principal``: who the user is and their direct memberships.

The calls, and why (docs/access.md has the figures):

1. ``GET /personal_access_tokens/self`` with the caller's token: the token's scopes and user,
   whatever its scopes (a ``read_repository`` token cannot call ``/user``). An OAuth access
   token (a GitLab sign-in's) is not one: ``GET /oauth/token/info`` says its user and scopes.
2. ``GET /user`` with the caller's token, when its scopes allow: ``is_admin`` appears only
   when the token really acts as admin (Admin Mode respected by GitLab itself), and
   ``external``. Otherwise ``GET /users/:id`` with labstac's admin token; such a token (only
   ``read_repository``) of an admin acts as admin when Admin Mode is off, or when it also
   has ``admin_mode`` (``GET /application/settings``, read at most once a minute, says which).
3. ``GET /users/:id/memberships`` with labstac's admin token, paged by 100: the user's
   *direct* memberships in groups and projects, which is exactly what the access fields are
   matched against. The user's own ``/groups`` and ``/projects?membership=true`` would list
   every inherited subgroup and project instead: thousands of rows for a user high in a big
   group. Cost: 2 calls for the token, plus one per 100 memberships (a user in 5 groups: 3
   calls in all; in 500 groups: 7).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from indexer.access.callers import GUEST, Memberships, Principal, TokenUser
from indexer.errors import Invalid, NotFound, Unauthorized
from indexer.gitlab.async_client import GitLabHttp
from indexer.settings import Settings

log = logging.getLogger(__name__)

USER_SCOPES = frozenset({"api", "read_api", "read_user"})
ADMIN_MODE_TTL_SECONDS = 60.0


class MembershipResolver:
    def __init__(self, http: GitLabHttp, admin_token: str) -> None:
        self._http = http
        self._admin_token = admin_token
        self._admin_mode: tuple[float, bool] | None = None  # (read at, on)

    async def token_user(self, token: str) -> TokenUser:
        """Raises ``Unauthorized`` for a token GitLab refuses (unknown, expired, revoked,
        or a blocked user's)."""
        try:
            info = await self._http.get("/personal_access_tokens/self", token)
        except (Unauthorized, NotFound, Invalid):
            # Not a personal (or project, group) access token (GitLab answers 400, "This
            # endpoint requires token type to be a personal access token"): an OAuth token,
            # as a GitLab sign-in gives, says its owner and scopes elsewhere.
            oauth = await self._http.oauth_token_info(token)
            info = {"user_id": oauth["resource_owner_id"], "scopes": oauth.get("scope", [])}
        if not info.get("active", True) or info.get("revoked"):
            raise Unauthorized("the GitLab token is not active")
        scopes = frozenset(str(scope) for scope in info.get("scopes", []))
        if scopes & USER_SCOPES:
            user = await self._http.get("/user", token)
            acts_as_admin = bool(user.get("is_admin", False))
        else:
            try:
                user = await self._http.get(f"/users/{int(info['user_id'])}", self._admin_token)
            except NotFound:
                raise Unauthorized("the token's user no longer exists") from None
            # An admin's read_repository token reads every repository: GitLab's own rule,
            # which /user would apply for us if the token could call it. With Admin Mode
            # on, only a token with the admin_mode scope acts as admin.
            acts_as_admin = (
                bool(user.get("is_admin", False))
                and "read_repository" in scopes
                and ("admin_mode" in scopes or not await self._admin_mode_on())
            )
        if user.get("state", "active") != "active":
            raise Unauthorized("the GitLab user is not active")
        return TokenUser(
            user_id=int(user["id"]),
            username=str(user["username"]),
            acts_as_admin=acts_as_admin,
            external=bool(user.get("external", False)),
            scopes=scopes,
        )

    async def _admin_mode_on(self) -> bool:
        """Whether the instance's Admin Mode is on (read with labstac's token, at most once
        a minute). When labstac cannot tell (its token is no admin's), it assumes on: the
        caller then acts as admin only with the admin_mode scope, never more than GitLab
        allows."""
        now = time.monotonic()
        if self._admin_mode is None or now - self._admin_mode[0] > ADMIN_MODE_TTL_SECONDS:
            try:
                found = await self._http.get("/application/settings", self._admin_token)
                on = bool(found.get("admin_mode", True)) if isinstance(found, dict) else True
            except (Unauthorized, NotFound):
                on = True
            self._admin_mode = (now, on)
        return self._admin_mode[1]

    async def memberships(self, user_id: int) -> Memberships:
        groups: dict[int, int] = {}
        projects: dict[int, int] = {}
        async for row in self._http.get_pages(f"/users/{user_id}/memberships", self._admin_token):
            level = int(row["access_level"])
            if level < GUEST:  # Minimal Access opens nothing
                continue
            target = projects if row["source_type"] == "Project" else groups
            source = int(row["source_id"])
            target[source] = max(level, target.get(source, 0))
        return Memberships(groups=groups, projects=projects)

    async def principal(self, token: str | None) -> Principal:
        """Without cache: the caller behind ``token`` (None is anonymous)."""
        if not token:
            return Principal.anonymous()
        user = await self.token_user(token)
        return await self.principal_for(user)

    async def principal_for(self, user: TokenUser) -> Principal:
        if not user.can_read:
            return Principal.anonymous()
        if user.acts_as_admin:
            return Principal("admin", user)
        return Principal("user", user, await self.memberships(user.user_id))


async def principals_from_gitlab(
    settings: Settings, tokens: Sequence[str | None]
) -> list[Principal]:
    """The callers behind these tokens, straight from GitLab (no cache): for commands and
    benchmarks that need a caller's access filter outside the API."""
    http = GitLabHttp(str(settings.gitlab_url), settings.gitlab_timeout_seconds)
    admin = settings.gitlab_token.get_secret_value() if settings.gitlab_token else ""
    resolver = MembershipResolver(http, admin)
    try:
        return [await resolver.principal(token) for token in tokens]
    finally:
        await http.close()
