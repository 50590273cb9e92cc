"""The simulated GitLab instance: users, tokens, groups, projects, memberships and shares.

A World is plain data (dataclasses) that loads from and saves to JSON. Lookups that the API
and the permission oracle need often (children of a group, a user's memberships, a project
by path) are built lazily and dropped by ``changed()``, which every mutation must call.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

# GitLab's access levels (doc/user/permissions.md, doc/api/members.md "Roles").
NO_ACCESS = 0
MINIMAL_ACCESS = 5
GUEST = 10
PLANNER = 15
REPORTER = 20
DEVELOPER = 30
MAINTAINER = 40
OWNER = 50
ACCESS_LEVELS = (MINIMAL_ACCESS, GUEST, PLANNER, REPORTER, DEVELOPER, MAINTAINER, OWNER)

Visibility = Literal["private", "internal", "public"]
VISIBILITY_LEVEL: dict[str, int] = {"private": 0, "internal": 10, "public": 20}
FeatureAccess = Literal["enabled", "private", "disabled"]

# Scopes that let a token read through the REST API, and those that let it read repository
# content (the Repository Files API also takes read_repository), from
# doc/user/profile/personal_access_tokens.md "Personal access token scopes".
API_READ_SCOPES = frozenset({"api", "read_api"})
REPOSITORY_READ_SCOPES = frozenset({"api", "read_api", "read_repository"})


@dataclass
class User:
    id: int
    username: str
    name: str
    state: Literal["active", "blocked"] = "active"
    is_admin: bool = False
    external: bool = False
    bot: bool = False
    created_at: str = "2024-01-01T00:00:00.000Z"
    # The password of the simulator's sign-in page (OAuth); None: this user cannot sign in.
    password: str | None = None


@dataclass
class Token:
    id: int
    token: str
    user_id: int
    name: str
    scopes: list[str]
    expires_at: str | None = None  # ISO date; the token stops working on that day
    revoked: bool = False
    created_at: str = "2024-01-01T00:00:00.000Z"
    # An OAuth access token: the application (its uid) it was issued to, and when it
    # stops working (seconds since the epoch; GitLab's OAuth tokens last two hours).
    oauth_application: str | None = None
    expires_epoch: float | None = None


@dataclass
class OAuthApplication:
    """An OAuth application (doc/integration/oauth_provider.md): labstac's sign-in."""

    uid: str
    secret: str
    name: str
    redirect_uris: list[str]
    scopes: list[str]
    confidential: bool = True
    trusted: bool = False  # trusted applications skip the consent page


@dataclass
class Group:
    id: int
    path: str
    name: str
    parent_id: int | None = None
    visibility: Visibility = "private"
    description: str = ""
    created_at: str = "2024-01-01T00:00:00.000Z"


@dataclass
class RepoFile:
    """A file on the default branch. For a Git LFS file, ``content`` is the pointer that git
    stores and ``lfs_content`` the object that ``raw?lfs=true`` returns."""

    path: str
    content: str
    lfs_content: str | None = None
    # A large LFS object the simulator makes up as it sends it (a gigabyte is not kept in
    # memory): ``lfs_size`` bytes of ``lfs_bytes``.
    lfs_size: int | None = None
    # How ``content`` is stored as text: "latin-1" holds binary files (a picture) byte for
    # byte.
    encoding: str = "utf-8"

    @property
    def data(self) -> bytes:
        return self.content.encode(self.encoding)

    @property
    def is_lfs(self) -> bool:
        return self.lfs_content is not None or self.lfs_size is not None


@dataclass
class ReleaseLink:
    id: int
    name: str
    url: str
    link_type: Literal["other", "runbook", "image", "package"] = "other"


@dataclass
class Release:
    tag_name: str
    name: str
    description: str = ""
    created_at: str = "2024-01-01T00:00:00.000Z"
    released_at: str = "2024-01-01T00:00:00.000Z"
    links: list[ReleaseLink] = field(default_factory=list)
    # The release's database id, which only Release Hook payloads show; 0 for releases made
    # before the simulator allocated ids (gitlab_sim.changes does for new ones).
    id: int = 0


@dataclass
class Project:
    id: int
    path: str
    name: str
    namespace_kind: Literal["group", "user"]
    namespace_id: int  # a group id, or a user id for a personal project
    visibility: Visibility = "private"
    repository_access_level: FeatureAccess = "enabled"
    topics: list[str] = field(default_factory=list)
    description: str | None = None
    default_branch: str = "main"
    created_at: str = "2024-01-01T00:00:00.000Z"
    last_activity_at: str = "2024-01-01T00:00:00.000Z"
    archived: bool = False
    license_key: str | None = None
    star_count: int = 0
    creator_id: int | None = None
    files: dict[str, RepoFile] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    # Heads of the branches other than the default one, and the tags, as commit ids: the
    # simulator keeps file contents for the default branch only, but pushes to other refs
    # (gitlab_sim.changes) still need a before and after commit, as GitLab's hooks carry.
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def empty_repo(self) -> bool:
        return not self.files


@dataclass
class Membership:
    user_id: int
    source_type: Literal["group", "project"]
    source_id: int
    access_level: int
    expires_at: str | None = None  # ISO date; no access from that day on
    created_at: str = "2024-01-01T00:00:00.000Z"


@dataclass
class ProjectShare:
    """A project shared with a group (``project_group_links``)."""

    project_id: int
    group_id: int
    group_access: int  # the maximum role the group's members get
    expires_at: str | None = None


@dataclass
class GroupShare:
    """A group shared with another group (``group_group_links``)."""

    shared_group_id: int
    shared_with_group_id: int
    group_access: int
    expires_at: str | None = None


def _expired(expires_at: str | None, today: date) -> bool:
    return expires_at is not None and date.fromisoformat(expires_at) <= today


@dataclass
class World:
    users: list[User] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    project_shares: list[ProjectShare] = field(default_factory=list)
    group_shares: list[GroupShare] = field(default_factory=list)
    # Admin Mode (doc/administration/settings/sign_in_restrictions.md): when on, an admin's
    # token acts as admin only with the admin_mode scope.
    admin_mode: bool = False
    # The lowest role that reads the code of a private project, and of an internal project
    # for an external user: Reporter up to GitLab 18.6, Planner (15) from 18.7
    # (doc/user/permissions.md "Project repositories", footnote 1).
    private_repository_min_level: int = REPORTER
    # The day expiry dates are compared with; None means the real today (UTC).
    today_override: str | None = None
    instance_url: str = "http://gitlab.example.com"
    oauth_applications: list[OAuthApplication] = field(default_factory=list)

    # ----------------------------------------------------------------- time

    def today(self) -> date:
        if self.today_override:
            return date.fromisoformat(self.today_override)
        return datetime.now(UTC).date()

    def expired(self, expires_at: str | None) -> bool:
        return _expired(expires_at, self.today())

    # -------------------------------------------------------------- lookups

    @property
    def version(self) -> int:
        """Bumped by every ``changed()``: caches keyed on it never serve a stale answer."""
        return int(self.__dict__.get("_version", 0))

    def changed(self) -> None:
        """Forget every derived lookup; call after any change to the lists."""
        self.__dict__["_version"] = self.version + 1
        for name in (
            "user_by_id",
            "user_by_username",
            "token_by_value",
            "group_by_id",
            "children",
            "group_by_full_path",
            "project_by_id",
            "project_by_full_path",
            "projects_by_group",
            "project_ids_by_topic",
            "memberships_by_user",
            "memberships_by_source",
            "project_shares_by_project",
            "project_shares_by_group",
            "group_shares_by_shared",
            "group_shares_by_invited",
            "_full_path_cache",
            "_ancestor_cache",
        ):
            self.__dict__.pop(name, None)

    @cached_property
    def user_by_id(self) -> dict[int, User]:
        return {user.id: user for user in self.users}

    @cached_property
    def user_by_username(self) -> dict[str, User]:
        return {user.username.lower(): user for user in self.users}

    @cached_property
    def token_by_value(self) -> dict[str, Token]:
        return {token.token: token for token in self.tokens}

    def token_named(self, user_id: int, name: str = "main") -> Token:
        """A user's token by its name (the generator gives every user a "main" one; user 1
        is the instance admin)."""
        return next(t for t in self.tokens if t.user_id == user_id and t.name == name)

    @cached_property
    def group_by_id(self) -> dict[int, Group]:
        return {group.id: group for group in self.groups}

    @cached_property
    def children(self) -> dict[int | None, list[Group]]:
        result: dict[int | None, list[Group]] = defaultdict(list)
        for group in self.groups:
            result[group.parent_id].append(group)
        return result

    @cached_property
    def _full_path_cache(self) -> dict[int, str]:
        return {}

    @cached_property
    def _ancestor_cache(self) -> dict[int, tuple[int, ...]]:
        return {}

    def group_full_path(self, group_id: int) -> str:
        cache = self._full_path_cache
        if group_id not in cache:
            group = self.group_by_id[group_id]
            if group.parent_id is None:
                cache[group_id] = group.path
            else:
                cache[group_id] = f"{self.group_full_path(group.parent_id)}/{group.path}"
        return cache[group_id]

    def group_full_name(self, group_id: int) -> str:
        group = self.group_by_id[group_id]
        if group.parent_id is None:
            return group.name
        return f"{self.group_full_name(group.parent_id)} / {group.name}"

    def ancestor_ids(self, group_id: int) -> tuple[int, ...]:
        """The group and its ancestors, from the root namespace down to the group."""
        cache = self._ancestor_cache
        if group_id not in cache:
            group = self.group_by_id[group_id]
            above = () if group.parent_id is None else self.ancestor_ids(group.parent_id)
            cache[group_id] = (*above, group_id)
        return cache[group_id]

    def descendant_ids(self, group_id: int) -> list[int]:
        """Every group below this one (not the group itself), depth first."""
        result: list[int] = []
        stack = [child.id for child in self.children.get(group_id, [])]
        while stack:
            current = stack.pop()
            result.append(current)
            stack.extend(child.id for child in self.children.get(current, []))
        return result

    @cached_property
    def group_by_full_path(self) -> dict[str, Group]:
        return {self.group_full_path(group.id).lower(): group for group in self.groups}

    def namespace_full_path(self, project: Project) -> str:
        if project.namespace_kind == "group":
            return self.group_full_path(project.namespace_id)
        return self.user_by_id[project.namespace_id].username

    def project_full_path(self, project: Project) -> str:
        return f"{self.namespace_full_path(project)}/{project.path}"

    def project_ancestor_group_ids(self, project: Project) -> tuple[int, ...]:
        if project.namespace_kind != "group":
            return ()
        return self.ancestor_ids(project.namespace_id)

    @cached_property
    def project_by_id(self) -> dict[int, Project]:
        return {project.id: project for project in self.projects}

    @cached_property
    def project_by_full_path(self) -> dict[str, Project]:
        return {self.project_full_path(project).lower(): project for project in self.projects}

    @cached_property
    def projects_by_group(self) -> dict[int, list[Project]]:
        result: dict[int, list[Project]] = defaultdict(list)
        for project in self.projects:
            if project.namespace_kind == "group":
                result[project.namespace_id].append(project)
        return result

    @cached_property
    def project_ids_by_topic(self) -> dict[str, set[int]]:
        result: dict[str, set[int]] = defaultdict(set)
        for project in self.projects:
            for topic in project.topics:
                result[topic.lower()].add(project.id)
        return result

    @cached_property
    def memberships_by_user(self) -> dict[int, list[Membership]]:
        result: dict[int, list[Membership]] = defaultdict(list)
        for membership in self.memberships:
            result[membership.user_id].append(membership)
        return result

    @cached_property
    def memberships_by_source(self) -> dict[tuple[str, int], list[Membership]]:
        result: dict[tuple[str, int], list[Membership]] = defaultdict(list)
        for membership in self.memberships:
            result[(membership.source_type, membership.source_id)].append(membership)
        return result

    @cached_property
    def project_shares_by_project(self) -> dict[int, list[ProjectShare]]:
        result: dict[int, list[ProjectShare]] = defaultdict(list)
        for share in self.project_shares:
            result[share.project_id].append(share)
        return result

    @cached_property
    def project_shares_by_group(self) -> dict[int, list[ProjectShare]]:
        result: dict[int, list[ProjectShare]] = defaultdict(list)
        for share in self.project_shares:
            result[share.group_id].append(share)
        return result

    @cached_property
    def group_shares_by_shared(self) -> dict[int, list[GroupShare]]:
        result: dict[int, list[GroupShare]] = defaultdict(list)
        for share in self.group_shares:
            result[share.shared_group_id].append(share)
        return result

    @cached_property
    def group_shares_by_invited(self) -> dict[int, list[GroupShare]]:
        result: dict[int, list[GroupShare]] = defaultdict(list)
        for share in self.group_shares:
            result[share.shared_with_group_id].append(share)
        return result

    def find_project(self, id_or_path: str) -> Project | None:
        if id_or_path.isdigit():
            return self.project_by_id.get(int(id_or_path))
        return self.project_by_full_path.get(id_or_path.lower())

    def find_group(self, id_or_path: str) -> Group | None:
        if id_or_path.isdigit():
            return self.group_by_id.get(int(id_or_path))
        return self.group_by_full_path.get(id_or_path.lower())

    # ---------------------------------------------------------- allocation

    def next_id(self, kind: Literal["user", "token", "group", "project", "link"]) -> int:
        pools: dict[str, list[Any]] = {
            "user": self.users,
            "token": self.tokens,
            "group": self.groups,
            "project": self.projects,
        }
        if kind == "link":
            ids = [link.id for p in self.projects for r in p.releases for link in r.links]
            return max(ids, default=0) + 1
        return max((item.id for item in pools[kind]), default=0) + 1

    # ---------------------------------------------------------------- JSON

    def to_json(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> World:
        projects = []
        for stored in data.get("projects", []):
            raw = dict(stored)
            raw["files"] = {path: RepoFile(**file) for path, file in raw.get("files", {}).items()}
            raw["releases"] = [
                Release(
                    **{k: v for k, v in release.items() if k != "links"},
                    links=[ReleaseLink(**link) for link in release.get("links", [])],
                )
                for release in raw.get("releases", [])
            ]
            projects.append(Project(**raw))
        return cls(
            users=[User(**item) for item in data.get("users", [])],
            tokens=[Token(**item) for item in data.get("tokens", [])],
            groups=[Group(**item) for item in data.get("groups", [])],
            projects=projects,
            memberships=[Membership(**item) for item in data.get("memberships", [])],
            project_shares=[ProjectShare(**item) for item in data.get("project_shares", [])],
            group_shares=[GroupShare(**item) for item in data.get("group_shares", [])],
            admin_mode=bool(data.get("admin_mode", False)),
            private_repository_min_level=int(data.get("private_repository_min_level", REPORTER)),
            today_override=data.get("today_override"),
            instance_url=data.get("instance_url", "http://gitlab.example.com"),
            oauth_applications=[
                OAuthApplication(**item) for item in data.get("oauth_applications", [])
            ],
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> World:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value
