"""Who is calling: the GitLab token of a request (``Authorization: Bearer``, ``PRIVATE-TOKEN``
or ``X-Gitlab-Token``), else the GitLab token of its sign-in session (the ``labstac_session``
cookie), resolved to a principal through the cache and GitLab. No token is anonymous (an
unknown or expired session too); a refused token is 401; GitLab unreachable is 503, never
silently anonymous."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from api.sessions import COOKIE, Session, Sessions
from indexer.access.cache import CachedPrincipals
from indexer.access.callers import Principal
from indexer.access.filter import AccessFilters
from indexer.errors import TooManyRequests, Unauthorized

# GitLab's tokens (personal, project, group, OAuth) are short runs of printable ASCII. Any
# other value is refused here: it would never be a token, and must not reach GitLab's
# headers (httpx refuses non-ASCII) or a log.
_TOKEN = re.compile(r"^[\x21-\x7e]{1,1024}$")


def token_of(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    token = None
    if scheme.lower() == "bearer" and value.strip():
        token = value.strip()
    else:
        for header in ("private-token", "x-gitlab-token"):
            if request.headers.get(header, "").strip():
                token = request.headers[header].strip()
                break
    if token is not None and not _TOKEN.match(token):
        raise Unauthorized("the token is not a GitLab token")
    return token


async def access_of(request: Request) -> dict[str, Any]:
    """The access filter of the request's caller: the clause every query of it carries."""
    filters: AccessFilters = request.app.state.access_filters
    return filters.for_principal(await principal_of(request))


async def session_of(request: Request) -> Session | None:
    """The request's sign-in session, if its cookie names a live one."""
    state = request.scope.setdefault("state", {})
    if "session" not in state:
        sessions: Sessions = request.app.state.sessions
        state["session"] = await sessions.get(request.cookies.get(COOKIE))
    found: Session | None = state["session"]
    return found


async def caller_token(request: Request) -> str | None:
    """The GitLab token the request acts with: a header's, else its session's."""
    token = token_of(request)
    if token is not None:
        return token
    session = await session_of(request)
    return session.access_token if session else None


async def principal_of(request: Request) -> Principal:
    cached: Principal | None = request.scope.setdefault("state", {}).get("principal")
    if cached is not None:
        return cached
    principals: CachedPrincipals = request.app.state.principals
    client = request.client.host if request.client else "unknown"
    token = token_of(request)
    session = None if token is not None else await session_of(request)
    try:
        principal = await principals.principal(
            token if session is None else session.access_token, client=client
        )
    except Unauthorized:
        if session is None:
            raise
        # GitLab no longer takes the session's token (the app was revoked, the user
        # blocked): the browser is signed out, and anonymous rather than refused.
        sessions: Sessions = request.app.state.sessions
        await sessions.delete(request.cookies.get(COOKIE, ""))
        request.scope["state"]["session"] = None
        principal = await principals.principal(None, client=client)
    except TooManyRequests:
        request.app.state.metrics.tokens_limited.inc()
        raise
    request.scope["state"]["principal"] = principal
    return principal
