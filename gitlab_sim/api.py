"""The simulator's HTTP face: GitLab's REST API v4 (the read side labstac uses) under
``/api/v4``, plus its own control endpoints under ``/-/sim/`` (a prefix GitLab does not use).

Routing works on the raw path, as GitLab's does: ``/projects/group%2Fproject`` is one
project id, and ``/repository/files/dir%2Ffile.md`` one file path.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import secrets
import tarfile
import time
import zipfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gitlab_sim import entities, oauth
from gitlab_sim.blobs import raw_response
from gitlab_sim.changes import Changes
from gitlab_sim.control import control
from gitlab_sim.delivery import Delivery
from gitlab_sim.faults import Faults
from gitlab_sim.hooks import HookRegistry
from gitlab_sim.oauth import OAuthState
from gitlab_sim.pagination import (
    PaginationError,
    keyset_by_id,
    keyset_by_token,
    offset_page,
)
from gitlab_sim.permissions import Caller, Oracle
from gitlab_sim.world import (
    API_READ_SCOPES,
    MINIMAL_ACCESS,
    OWNER,
    REPOSITORY_READ_SCOPES,
    VISIBILITY_LEVEL,
    Group,
    OAuthApplication,
    Project,
    Token,
    World,
)

API_PREFIX = "/api/v4"
SIM_PREFIX = "/-/sim"


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found(what: str = "") -> ApiError:
    return ApiError(404, {"message": f"404 {what} Not Found" if what else "404 Not Found"})


UNAUTHORIZED = ApiError(401, {"message": "401 Unauthorized"})
TOKEN_EXPIRED = ApiError(
    401,
    {
        "error": "invalid_token",
        "error_description": "Token is expired. You can either do re-authorization or token "
        "refresh.",
    },
)
TOKEN_REVOKED = ApiError(
    401,
    {
        "error": "invalid_token",
        "error_description": "Token was revoked. You have to re-authorize from the user.",
    },
)


def insufficient_scope(scope: str) -> ApiError:
    return ApiError(
        403,
        {
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by "
            "the access token.",
            "scope": scope,
        },
    )


@dataclass
class Context:
    """One request, as the handlers see it."""

    request: Request
    world: World
    caller: Caller
    token: Token | None
    params: dict[str, str]
    match: dict[str, str]
    base_url: str  # this request's URL without its query, for Link headers

    oracle: Oracle

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        if value is None:
            return default
        return value.lower() in ("1", "true", "yes")

    def require_user(self) -> None:
        if self.caller.user is None:
            raise UNAUTHORIZED

    def require_api_scope(self) -> None:
        if self.token is not None and not set(self.token.scopes) & API_READ_SCOPES:
            raise insufficient_scope("api read_api")

    def require_repository_scope(self) -> None:
        if self.token is not None and not set(self.token.scopes) & REPOSITORY_READ_SCOPES:
            raise insufficient_scope("api read_api read_repository")

    def project(self) -> Project:
        project = self.world.find_project(self.match["project"])
        if project is None or not self.oracle.can_see_project(project):
            raise not_found("Project")
        return project

    def readable_project(self) -> Project:
        project = self.project()
        if not self.oracle.can_read_repository(project):
            # GitLab answers 403 for a visible project whose code the caller may not read.
            raise ApiError(403, {"message": "403 Forbidden"})
        return project

    def group(self) -> Group:
        group = self.world.find_group(self.match["group"])
        if group is None or not self.oracle.can_see_group(group):
            raise not_found("Group")
        return group


Handler = Callable[[Context], Awaitable[Response]]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    name: str


@dataclass
class Stats:
    """Calls served, by route name: tests read them to count labstac's GitLab calls."""

    calls: Counter[str] = field(default_factory=Counter)
    by_token: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)

    def total(self) -> int:
        return sum(self.calls.values())


ROUTES: list[Route] = []


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    # ":project" and ":group" are an id or a URL-encoded full path; ":path" one encoded segment.
    regex = re.sub(r":(\w+)", lambda m: f"(?P<{m.group(1)}>[^/]+)", path)

    def register(handler: Handler) -> Handler:
        methods = ["GET", "HEAD"] if method == "GET" else [method]
        for each in methods:
            ROUTES.append(Route(each, re.compile(f"^{regex}$"), handler, f"{each} {path}"))
        return handler

    return register


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def paged(ctx: Context, items: list[Any], render: Callable[[Any], Any], **kwargs: Any) -> Response:
    page = offset_page(items, ctx.params, ctx.base_url, **kwargs)
    return json_response([render(item) for item in page.items], headers=page.headers)


# ------------------------------------------------------------------ users


@route("GET", "/user")
async def current_user(ctx: Context) -> Response:
    ctx.require_user()
    if ctx.token is not None and not set(ctx.token.scopes) & (API_READ_SCOPES | {"read_user"}):
        raise insufficient_scope("api read_api read_user")
    user = ctx.caller.user
    assert user is not None
    return json_response(
        entities.user_entity(ctx.world, user, for_admin=ctx.oracle.acts_as_admin, own=True)
    )


@route("GET", "/users/:user")
async def get_user(ctx: Context) -> Response:
    if ctx.caller.user is None:
        raise ApiError(403, {"message": "403 Forbidden - Not authorized!"})
    user = ctx.world.user_by_id.get(int(ctx.match["user"])) if ctx.match["user"].isdigit() else None
    if user is None:
        raise not_found("User")
    own = user.id == ctx.caller.user.id
    return json_response(
        entities.user_entity(ctx.world, user, for_admin=ctx.oracle.acts_as_admin, own=own)
    )


@route("GET", "/users/:user/memberships")
async def user_memberships(ctx: Context) -> Response:
    ctx.require_user()
    ctx.require_api_scope()
    if not ctx.oracle.acts_as_admin:
        raise ApiError(403, {"message": "403 Forbidden"})
    world = ctx.world
    user = world.user_by_id.get(int(ctx.match["user"])) if ctx.match["user"].isdigit() else None
    if user is None:
        raise not_found("User")
    wanted = ctx.params.get("type")
    if wanted not in (None, "Project", "Namespace"):
        raise ApiError(400, {"error": "type does not have a valid value"})
    rows = []
    for membership in world.memberships_by_user.get(user.id, []):
        if world.expired(membership.expires_at):
            continue
        kind = "Project" if membership.source_type == "project" else "Namespace"
        if wanted and kind != wanted:
            continue
        if kind == "Project":
            name = world.project_by_id[membership.source_id].name
        else:
            name = world.group_by_id[membership.source_id].name
        rows.append(
            {
                "source_id": membership.source_id,
                "source_name": name,
                "source_type": kind,
                "access_level": membership.access_level,
            }
        )
    return paged(ctx, rows, lambda row: row)


@route("GET", "/application/settings")
async def application_settings(ctx: Context) -> Response:
    """doc/api/settings.md: administrators only. A few of the instance's settings, among
    them ``admin_mode`` (whether admins need the admin_mode scope to act as admins)."""
    ctx.require_user()
    ctx.require_api_scope()
    if not ctx.oracle.acts_as_admin:
        raise ApiError(403, {"message": "403 Forbidden"})
    world = ctx.world
    return json_response(
        {
            "id": 1,
            "admin_mode": world.admin_mode,
            "default_project_visibility": "private",
            "default_group_visibility": "private",
            "signup_enabled": False,
        }
    )


@route("GET", "/personal_access_tokens/self")
async def token_self(ctx: Context) -> Response:
    if ctx.token is None:
        raise UNAUTHORIZED
    if ctx.token.oauth_application is not None:
        # lib/api/personal_access_tokens/self_information.rb: other kinds of token are a
        # bad request here; an OAuth token's owner and scopes are at /oauth/token/info.
        raise ApiError(
            400,
            {
                "message": "400 Bad request - This endpoint requires token type "
                "to be a personal access token"
            },
        )
    return json_response(entities.token_entity(ctx.token, active=True))


# --------------------------------------------------------------- projects


PROJECT_ORDERS: dict[str, Callable[[World, Project], Any]] = {
    "id": lambda w, p: p.id,
    "name": lambda w, p: p.name.lower(),
    "path": lambda w, p: p.path.lower(),
    "created_at": lambda w, p: p.created_at,
    "updated_at": lambda w, p: p.last_activity_at,
    "last_activity_at": lambda w, p: p.last_activity_at,
    "star_count": lambda w, p: p.star_count,
}


def filter_projects(ctx: Context, projects: list[Project]) -> list[Project]:
    """The filters GitLab's project lists share (doc/api/projects.md "List all projects")."""
    params, oracle = ctx.params, ctx.oracle
    result = projects
    if "topic" in params:
        # All the given topics must match (comma-separated), case-insensitively.
        wanted = [t.strip().lower() for t in params["topic"].split(",") if t.strip()]
        by_topic = ctx.world.project_ids_by_topic
        matching = set.intersection(*(by_topic.get(t, set()) for t in wanted)) if wanted else None
        if matching is not None:
            result = [p for p in result if p.id in matching]
    result = [p for p in result if oracle.can_see_project(p)]
    if "visibility" in params:
        if params["visibility"] not in VISIBILITY_LEVEL:
            raise ApiError(400, {"error": "visibility does not have a valid value"})
        result = [p for p in result if p.visibility == params["visibility"]]
    if "archived" in params:
        archived = ctx.flag("archived")
        result = [p for p in result if p.archived == archived]
    if "search" in params:
        needle = params["search"].lower()
        result = [
            p
            for p in result
            if needle in p.name.lower()
            or needle in p.path.lower()
            or needle in (p.description or "").lower()
        ]
    min_level = 0
    if ctx.flag("membership"):
        min_level = max(min_level, 10)
    if ctx.flag("owned"):
        min_level = max(min_level, OWNER)
    if "min_access_level" in params:
        try:
            min_level = max(min_level, int(params["min_access_level"]))
        except ValueError:
            raise ApiError(400, {"error": "min_access_level is invalid"}) from None
    if min_level:
        if ctx.caller.user is None:
            raise UNAUTHORIZED
        result = [p for p in result if oracle.project_access(p).level >= min_level]
    if "last_activity_after" in params:
        after = _parse_time(params["last_activity_after"], "last_activity_after")
        result = [p for p in result if _parse_time(p.last_activity_at, "") > after]
    if "last_activity_before" in params:
        before = _parse_time(params["last_activity_before"], "last_activity_before")
        result = [p for p in result if _parse_time(p.last_activity_at, "") < before]
    for key in ("id_after", "id_before"):
        if key in params:
            try:
                bound = int(params[key])
            except ValueError:
                raise ApiError(400, {"error": f"{key} is invalid"}) from None
            id_after = key == "id_after"
            result = [p for p in result if (p.id > bound if id_after else p.id < bound)]
    return result


def _parse_time(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, {"error": f"{name} is invalid"}) from None


def list_projects_response(ctx: Context, projects: list[Project]) -> Response:
    world = ctx.world
    result = filter_projects(ctx, projects)
    simple = ctx.flag("simple") or ctx.caller.user is None
    with_permissions = ctx.caller.user is not None

    def render(project: Project) -> dict[str, Any]:
        if simple:
            return entities.project_basic(world, project, ctx.oracle)
        return entities.project_entity(
            world, project, ctx.oracle, with_permissions=with_permissions
        )

    if ctx.params.get("pagination") == "keyset":
        page = keyset_by_id(result, ctx.params, ctx.base_url, lambda p: p.id)
        return json_response([render(p) for p in page.items], headers=page.headers)
    order_by = ctx.params.get("order_by", "created_at")
    if order_by not in PROJECT_ORDERS:
        raise ApiError(400, {"error": "order_by does not have a valid value"})
    sort = ctx.params.get("sort", "desc")
    if sort not in ("asc", "desc"):
        raise ApiError(400, {"error": "sort does not have a valid value"})
    key = PROJECT_ORDERS[order_by]
    # Ties broken by id, in the same direction, as GitLab's ORDER BY ..., id does.
    ordered = sorted(result, key=lambda p: (key(world, p), p.id), reverse=sort == "desc")
    return paged(ctx, ordered, render, offset_limited=True)


@route("GET", "/projects")
async def list_projects(ctx: Context) -> Response:
    ctx.require_api_scope()
    return list_projects_response(ctx, ctx.world.projects)


@route("GET", "/projects/:project")
async def get_project(ctx: Context) -> Response:
    ctx.require_api_scope()
    project = ctx.project()
    return json_response(
        entities.project_entity(
            ctx.world,
            project,
            ctx.oracle,
            with_license=ctx.flag("license"),
            with_permissions=ctx.caller.user is not None,
        )
    )


@route("GET", "/projects/:project/groups")
async def project_groups(ctx: Context) -> Response:
    ctx.require_api_scope()
    project = ctx.project()
    world = ctx.world
    groups = [world.group_by_id[g] for g in reversed(world.project_ancestor_group_ids(project))]
    if ctx.flag("with_shared"):
        minimum = int(ctx.params.get("shared_min_access_level", "0") or 0)
        for share in world.project_shares_by_project.get(project.id, []):
            if world.expired(share.expires_at) or share.group_access < minimum:
                continue
            shared = world.group_by_id[share.group_id]
            if ctx.flag("shared_visible_only") and not ctx.oracle.can_see_group(shared):
                continue
            if shared not in groups:
                groups.append(shared)
    skip = {int(v) for v in ctx.params.get("skip_groups", "").split(",") if v.strip().isdigit()}
    if "search" in ctx.params:
        needle = ctx.params["search"].lower()
        groups = [g for g in groups if needle in g.name.lower() or needle in g.path.lower()]
    groups = [g for g in groups if g.id not in skip]
    return paged(ctx, groups, lambda g: entities.public_group(world, g))


@route("GET", "/projects/:project/members/all")
async def project_members_all(ctx: Context) -> Response:
    ctx.require_api_scope()
    project = ctx.project()
    world = ctx.world
    candidates: set[int] = set()
    for membership in world.memberships_by_source.get(("project", project.id), []):
        candidates.add(membership.user_id)
    related_groups = set(world.project_ancestor_group_ids(project))
    for share in world.project_shares_by_project.get(project.id, []):
        related_groups.update(world.ancestor_ids(share.group_id))
    for group_id in list(related_groups):
        for ancestor in world.ancestor_ids(group_id):
            for group_share in world.group_shares_by_shared.get(ancestor, []):
                related_groups.add(group_share.shared_with_group_id)
    for group_id in related_groups:
        for membership in world.memberships_by_source.get(("group", group_id), []):
            candidates.add(membership.user_id)
    if project.namespace_kind == "user":
        candidates.add(project.namespace_id)
    rows = []
    for user_id in sorted(candidates):
        user = world.user_by_id[user_id]
        access = Oracle(world, Caller.of(user)).project_access(project)
        if access.level > MINIMAL_ACCESS:
            rows.append(
                {
                    **entities.user_basic(world, user),
                    "created_at": user.created_at,
                    "access_level": access.level,
                    "expires_at": None,
                    "membership_state": "active",
                }
            )
    return paged(ctx, rows, lambda row: row)


# ------------------------------------------------------------- repository


def _ref_ok(project: Project, ref: str | None) -> bool:
    if ref in (None, "", "HEAD", project.default_branch):
        return True
    return any(release.tag_name == ref for release in project.releases)


def _tree_entries(project: Project) -> list[tuple[str, str]]:
    """Every (path, type) in the repository, directories included, in path order."""
    entries: dict[str, str] = {}
    for path in project.files:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            entries.setdefault("/".join(parts[:depth]), "tree")
        entries[path] = "blob"
    return sorted(entries.items())


@route("GET", "/projects/:project/repository/tree")
async def repository_tree(ctx: Context) -> Response:
    ctx.require_api_scope()
    project = ctx.readable_project()
    if not _ref_ok(project, ctx.params.get("ref")):
        raise not_found("Tree")
    base = ctx.params.get("path", "").strip("/")
    recursive = ctx.flag("recursive")
    entries = _tree_entries(project)
    if base and not any(path == base and kind == "tree" for path, kind in entries):
        raise not_found("Tree")
    prefix = f"{base}/" if base else ""
    chosen = [
        (path, kind)
        for path, kind in entries
        if path.startswith(prefix) and (recursive or "/" not in path[len(prefix) :])
    ]
    rows = [entities.tree_entry(project, path, kind) for path, kind in chosen]
    pagination = ctx.params.get("pagination", "legacy")
    if pagination == "keyset":
        page = keyset_by_token(rows, ctx.params, ctx.base_url, lambda row: row["path"])
        return json_response(page.items, headers=page.headers)
    if pagination == "none":
        if not recursive:
            raise ApiError(400, {"error": 'pagination cannot be "none" unless "recursive" is true'})
        return json_response(rows)
    return paged(ctx, rows, lambda row: row)


def _file(ctx: Context, require_ref: bool) -> tuple[Project, Any, str]:
    ctx.require_repository_scope()
    project = ctx.readable_project()
    ref = ctx.params.get("ref")
    if require_ref and not ref:
        raise ApiError(400, {"error": "ref is missing"})
    if not _ref_ok(project, ref):
        raise not_found("Commit")
    path = unquote(ctx.match["path"])
    file = project.files.get(path)
    if file is None:
        raise not_found("File")
    return project, file, ref or project.default_branch


@route("GET", "/projects/:project/repository/files/:path")
async def repository_file(ctx: Context) -> Response:
    project, file, ref = _file(ctx, require_ref=True)
    entity = entities.file_entity(ctx.world, project, file, ref)
    headers = entities.file_headers(entity)
    if ctx.request.method == "HEAD":
        return Response(status_code=200, headers=headers)
    return json_response(entity, headers=headers)


@route("GET", "/projects/:project/repository/files/:path/raw")
async def repository_file_raw(ctx: Context) -> Response:
    project, file, ref = _file(ctx, require_ref=False)
    entity = entities.file_entity(ctx.world, project, file, ref)
    headers = entities.file_headers(entity)
    lfs = file.is_lfs and ctx.flag("lfs")
    return raw_response(ctx.request, file, lfs, headers, "text/plain; charset=utf-8")


@route("GET", "/projects/:project/repository/archive")
async def repository_archive(ctx: Context) -> Response:
    return await _archive(ctx, ctx.params.get("format", "tar.gz"))


@route("GET", "/projects/:project/repository/archive.:format")
async def repository_archive_suffix(ctx: Context) -> Response:
    return await _archive(ctx, ctx.match["format"])


async def _archive(ctx: Context, fmt: str) -> Response:
    ctx.require_repository_scope()
    project = ctx.readable_project()
    if not _ref_ok(project, ctx.params.get("sha")):
        raise not_found("File")
    sub = ctx.params.get("path", "").strip("/")
    root = f"{project.path}-{ctx.params.get('sha') or project.default_branch}"
    files = [f for p, f in sorted(project.files.items()) if not sub or p.startswith(f"{sub}/")]
    buffer = io.BytesIO()
    if fmt == "zip":
        with zipfile.ZipFile(buffer, "w") as archive:
            for file in files:
                archive.writestr(f"{root}/{file.path}", file.data)
        media = "application/zip"
    elif fmt in ("tar", "tar.gz", "tgz"):
        mode = "w" if fmt == "tar" else "w:gz"
        with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
            for file in files:
                data = file.data
                info = tarfile.TarInfo(f"{root}/{file.path}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        media = "application/x-tar" if fmt == "tar" else "application/gzip"
    else:
        raise ApiError(400, {"error": "format does not have a valid value"})
    return Response(
        buffer.getvalue(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{root}.{fmt}"'},
    )


# --------------------------------------------------------------- releases


def _releases_in_order(project: Project, params: dict[str, str]) -> list[Any]:
    order_by = params.get("order_by", "released_at")
    if order_by not in ("released_at", "created_at"):
        raise ApiError(400, {"error": "order_by does not have a valid value"})
    return sorted(
        project.releases,
        key=lambda r: getattr(r, order_by),
        reverse=params.get("sort", "desc") != "asc",
    )


@route("GET", "/projects/:project/releases")
async def list_releases(ctx: Context) -> Response:
    ctx.require_api_scope()
    project = ctx.readable_project()
    releases = _releases_in_order(project, ctx.params)
    return paged(ctx, releases, lambda r: entities.release_entity(ctx.world, project, r))


@route("GET", "/projects/:project/releases/permalink/latest")
async def latest_release(ctx: Context) -> Response:
    ctx.require_api_scope()
    project = ctx.readable_project()
    releases = _releases_in_order(project, {"order_by": "released_at", "sort": "desc"})
    if not releases:
        raise not_found()
    location = f"{API_PREFIX}/projects/{project.id}/releases/{releases[0].tag_name}"
    return Response(status_code=302, headers={"Location": location})


@route("GET", "/projects/:project/releases/:tag")
async def get_release(ctx: Context) -> Response:
    ctx.require_api_scope()
    project = ctx.readable_project()
    tag = unquote(ctx.match["tag"])
    for release in project.releases:
        if release.tag_name == tag:
            return json_response(entities.release_entity(ctx.world, project, release))
    raise not_found()


# ----------------------------------------------------------------- groups


GROUP_ORDERS: dict[str, Callable[[World, Group], Any]] = {
    "name": lambda w, g: g.name.lower(),
    "path": lambda w, g: g.path.lower(),
    "id": lambda w, g: g.id,
}


def _ordered_groups(ctx: Context, groups: list[Group]) -> list[Group]:
    order_by = ctx.params.get("order_by", "name")
    if order_by not in GROUP_ORDERS:
        raise ApiError(400, {"error": "order_by does not have a valid value"})
    key = GROUP_ORDERS[order_by]
    return sorted(
        groups, key=lambda g: (key(ctx.world, g), g.id), reverse=ctx.params.get("sort") == "desc"
    )


def filter_groups(ctx: Context, groups: list[Group], default_all: bool) -> list[Group]:
    params, oracle = ctx.params, ctx.oracle
    result = [g for g in groups if oracle.can_see_group(g)]
    min_level = 0
    if "min_access_level" in params:
        min_level = int(params["min_access_level"]) if params["min_access_level"].isdigit() else 0
    if ctx.flag("owned"):
        min_level = max(min_level, OWNER)
    if min_level:
        ctx.require_user()
        result = [g for g in result if oracle.group_access(g.id).level >= min_level]
    elif ctx.caller.user is not None and not ctx.flag("all_available", default_all):
        # A signed-in user's default list: the groups they belong to (any level).
        result = [g for g in result if oracle.group_access(g.id).level >= MINIMAL_ACCESS]
    if "search" in params:
        needle = params["search"].lower()
        result = [g for g in result if needle in g.name.lower() or needle in g.path.lower()]
    if "visibility" in params:
        result = [g for g in result if g.visibility == params["visibility"]]
    if ctx.flag("top_level_only"):
        result = [g for g in result if g.parent_id is None]
    skip = {int(v) for v in params.get("skip_groups", "").split(",") if v.strip().isdigit()}
    return [g for g in result if g.id not in skip]


@route("GET", "/groups")
async def list_groups(ctx: Context) -> Response:
    ctx.require_api_scope()
    default_all = ctx.caller.user is None or ctx.oracle.acts_as_admin
    groups = _ordered_groups(ctx, filter_groups(ctx, ctx.world.groups, default_all))
    return paged(ctx, groups, lambda g: entities.group_entity(ctx.world, g))


@route("GET", "/groups/:group")
async def get_group(ctx: Context) -> Response:
    ctx.require_api_scope()
    group = ctx.group()
    world = ctx.world
    body = entities.group_entity(world, group)
    body["shared_with_groups"] = entities.group_shares_of(world, group)
    if ctx.flag("with_projects", default=True):
        own = [
            p for p in world.projects_by_group.get(group.id, []) if ctx.oracle.can_see_project(p)
        ]
        shared = [
            world.project_by_id[s.project_id]
            for s in world.project_shares_by_group.get(group.id, [])
            if ctx.oracle.can_see_project(world.project_by_id[s.project_id])
        ]
        body["projects"] = [entities.project_entity(world, p, ctx.oracle) for p in own[:100]]
        body["shared_projects"] = [
            entities.project_entity(world, p, ctx.oracle) for p in shared[:100]
        ]
    return json_response(body)


@route("GET", "/groups/:group/projects")
async def group_projects(ctx: Context) -> Response:
    ctx.require_api_scope()
    group = ctx.group()
    world = ctx.world
    group_ids = [group.id]
    if ctx.flag("include_subgroups"):
        group_ids += world.descendant_ids(group.id)
    projects = [p for gid in group_ids for p in world.projects_by_group.get(gid, [])]
    if ctx.flag("with_shared", default=True):
        seen = {p.id for p in projects}
        for share in world.project_shares_by_group.get(group.id, []):
            if share.project_id not in seen and not world.expired(share.expires_at):
                projects.append(world.project_by_id[share.project_id])
    return list_projects_response(ctx, projects)


@route("GET", "/users/:user/projects")
async def user_projects(ctx: Context) -> Response:
    """doc/api/projects.md "List a user's projects": the projects of a user's personal
    namespace that the caller may see."""
    ctx.require_api_scope()
    world = ctx.world
    user = world.user_by_id.get(int(ctx.match["user"])) if ctx.match["user"].isdigit() else None
    if user is None:
        raise not_found("User")
    projects = [
        p for p in world.projects if p.namespace_kind == "user" and p.namespace_id == user.id
    ]
    return list_projects_response(ctx, projects)


@route("GET", "/groups/:group/descendant_groups")
async def descendant_groups(ctx: Context) -> Response:
    ctx.require_api_scope()
    group = ctx.group()
    world = ctx.world
    below = [world.group_by_id[g] for g in world.descendant_ids(group.id)]
    result = _ordered_groups(ctx, filter_groups(ctx, below, default_all=True))
    return paged(ctx, result, lambda g: entities.group_entity(world, g))


@route("GET", "/namespaces/:namespace")
async def get_namespace(ctx: Context) -> Response:
    ctx.require_user()
    ctx.require_api_scope()
    world, key = ctx.world, ctx.match["namespace"]
    if key.isdigit() and int(key) > entities.USER_NAMESPACE_BASE:
        user = world.user_by_id.get(int(key) - entities.USER_NAMESPACE_BASE)
    else:
        user = None if key.isdigit() else world.user_by_username.get(unquote(key).lower())
    if user is not None:
        if user.id != ctx.caller.user.id and not ctx.oracle.acts_as_admin:  # type: ignore[union-attr]
            raise not_found("Namespace")
        return json_response(entities.user_namespace(world, user))
    group = world.find_group(unquote(key))
    if group is None or not ctx.oracle.can_see_group(group):
        raise not_found("Namespace")
    return json_response(entities.group_namespace(world, group))


# --------------------------------------------------------------- the app


class SimulatorApp:
    """The ASGI application. ``world`` may be replaced or mutated between requests (and the
    control endpoints let another process do so)."""

    def __init__(self, world: World, faults: Faults | None = None) -> None:
        self.world = world
        self.faults = faults or Faults()
        self.stats = Stats()
        # One oracle per caller and world version: its memoised answers make page two of
        # a list as cheap as a lookup, and a change to the world starts afresh.
        self._oracles: dict[tuple[int, str | None, bool], Oracle] = {}
        # Part 2: the write side. Hooks and their deliveries live beside the world; every
        # change goes through ``changes`` (gitlab_sim.changes), which sends the hooks.
        self.oauth = OAuthState()
        self.hooks = HookRegistry()
        self.delivery = Delivery()
        self._changes: Changes | None = None

    @property
    def changes(self) -> Changes:
        """The changes API bound to the current world (rebound if the world is replaced)."""
        if self._changes is None or self._changes.world is not self.world:
            self._changes = Changes(self.world, self.hooks, self.delivery)
        return self._changes

    def oracle_for(self, caller: Caller, token: Token | None) -> Oracle:
        key = (self.world.version, token.token if token else None, self.world.admin_mode)
        oracle = self._oracles.get(key)
        if oracle is None or oracle.world is not self.world:
            if len(self._oracles) > 5000:
                self._oracles.clear()
            oracle = self._oracles[key] = Oracle(self.world, caller)
        return oracle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw_path = scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?")[0]
        if raw_path.startswith(SIM_PREFIX):
            response = await self._control(request, raw_path[len(SIM_PREFIX) :])
        elif raw_path.startswith("/oauth/") or raw_path == "/users/sign_in":
            answered = await oauth.handle(self.world, self.oauth, request, raw_path)
            response = answered or json_response({"error": "404 Not Found"}, 404)
        else:
            response = await self._api(request, raw_path)
        await response(scope, receive, send)

    async def _api(self, request: Request, raw_path: str) -> Response:
        if not raw_path.startswith(API_PREFIX):
            return json_response({"message": "404 Not Found"}, 404)
        path = raw_path[len(API_PREFIX) :].rstrip("/") or "/"
        fault = self.faults.draw()
        if fault:
            self.stats.faults[fault] += 1
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if fault == "rate_limited":
            # doc/administration/settings/user_and_ip_rate_limits.md "Response headers"
            reset = int(time.time()) + self.faults.retry_after_seconds
            return Response(
                "Retry later\n",
                status_code=429,
                media_type="text/plain",
                headers={
                    "Retry-After": str(self.faults.retry_after_seconds),
                    "RateLimit-Limit": "600",
                    "RateLimit-Name": "throttle_authenticated_api",
                    "RateLimit-Observed": "601",
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(reset),
                },
            )
        if fault == "server_error":
            status = self.faults.pick_server_error()
            return json_response({"message": f"{status} Internal Server Error"}, status)
        if fault == "timeout":
            await asyncio.sleep(self.faults.timeout_seconds)
            return json_response({"message": "504 Gateway Timeout"}, 504)
        for candidate in ROUTES:
            if candidate.method != request.method:
                continue
            found = candidate.pattern.match(path)
            if found is None:
                continue
            # Every call counts, a refused one too: it cost GitLab the same.
            self.stats.calls[candidate.name] += 1
            try:
                ctx = self._context(request, found.groupdict())
                if ctx.token is not None:
                    self.stats.by_token[ctx.token.token[-6:]] += 1
                answer = await candidate.handler(ctx)
                if candidate.name == self.faults.slow_route and self.faults.slow_route_ms:
                    await asyncio.sleep(self.faults.slow_route_ms / 1000)
                return answer
            except ApiError as error:
                return json_response(error.body, error.status, error.headers)
            except PaginationError as error:
                return json_response(error.body, error.status)
        return json_response({"error": "404 Not Found"}, 404)

    def _context(self, request: Request, match: dict[str, str]) -> Context:
        world = self.world
        params: dict[str, str] = {}
        for raw_key, value in parse_qsl(request.url.query, keep_blank_values=True):
            key = raw_key.removesuffix("[]")
            if raw_key.endswith("[]") and key in params:  # skip_groups[]=1&skip_groups[]=2
                params[key] = f"{params[key]},{value}"
            else:
                params[key] = value
        secret = (
            request.headers.get("private-token")
            or _bearer(request.headers.get("authorization", ""))
            or params.get("private_token")
            or params.get("access_token")
        )
        params_had_access_token = "access_token" in params
        params.pop("private_token", None)
        params.pop("access_token", None)
        token: Token | None = None
        caller = Caller.anonymous()
        if secret:
            token = world.token_by_value.get(secret)
            if token is None:
                raise UNAUTHORIZED
            if token.revoked:
                raise TOKEN_REVOKED
            if world.expired(token.expires_at) or (
                token.expires_epoch is not None and token.expires_epoch <= time.time()
            ):
                raise TOKEN_EXPIRED
            if world.user_by_id[token.user_id].state != "active":
                raise UNAUTHORIZED
            if (
                token.oauth_application is not None
                and not _bearer(request.headers.get("authorization", ""))
                and not params_had_access_token
            ):
                # OAuth tokens go as Bearer (or access_token), never as PRIVATE-TOKEN.
                raise UNAUTHORIZED
            caller = Caller.with_token(world, token)
        base_url = str(request.url.replace(query=""))
        match = {k: unquote(v) if k in ("project", "group") else v for k, v in match.items()}
        oracle = self.oracle_for(caller, token)
        return Context(request, world, caller, token, params, match, base_url, oracle)

    async def _control(self, request: Request, path: str) -> Response:
        if path == "/faults":
            if request.method == "PUT":
                try:
                    self.faults.update(await request.json())
                except (ValueError, TypeError) as error:
                    return json_response({"error": str(error)}, 400)
            return json_response(self.faults.to_json())
        if path == "/stats":
            if request.method == "DELETE":
                self.stats = Stats()
            return json_response(
                {
                    "total": self.stats.total(),
                    "calls": dict(self.stats.calls),
                    "faults": dict(self.stats.faults),
                }
            )
        if path == "/oauth/applications" and request.method == "POST":
            # What an admin does in Admin Area > Applications (or the Applications API).
            given = await request.json()
            application = OAuthApplication(
                uid=secrets.token_hex(32), secret=f"gloas-{secrets.token_hex(32)}",
                name=str(given.get("name", "labstac")),
                redirect_uris=[str(u) for u in given.get("redirect_uris", [])],
                scopes=[str(s) for s in given.get("scopes", ["read_api"])],
                confidential=bool(given.get("confidential", True)),
                trusted=bool(given.get("trusted", False)),
            )  # fmt: skip
            self.world.oauth_applications.append(application)
            return json_response({"uid": application.uid, "secret": application.secret}, 201)
        if path == "/health":
            return json_response({"status": "ok", "projects": len(self.world.projects)})
        # ------------------------------------------- changes, hooks and deliveries
        # (part 2: the endpoints live in gitlab_sim.control)
        answered = await control(self, request, path)
        if answered is not None:
            return answered
        return json_response({"error": f"no simulator endpoint {path}"}, 404)


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None
