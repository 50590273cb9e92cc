"""Golden cases: a small world worked by hand from GitLab's documentation, and for each rule
of docs/gitlab-simulator.md at least one case whose answer changes if the rule is dropped.

The world (all groups and projects named for what they test):

    acme                      public     alice Reporter, grace Owner (blocked)
    └── acme/vision           internal
        └── .../private-lab   private    bob Developer, heidi Planner, frank Developer (expired)
    partners                  private    dave Maintainer, ivan Minimal Access
    └── partners/eu           private    erin Maintainer
        └── partners/eu/sub   private    uma Developer
    other                     private    trent Developer
    └── other/team            private    peggy Developer
    acme/vision/private-lab is shared with other/team (max Reporter).
    oscar/personal-shared (private, oscar's own) is shared with partners/eu (max Reporter).
"""

from __future__ import annotations

from dataclasses import dataclass

from gitlab_sim.permissions import Caller, Decision, Oracle
from gitlab_sim.world import (
    DEVELOPER,
    GUEST,
    MAINTAINER,
    MINIMAL_ACCESS,
    OWNER,
    PLANNER,
    REPORTER,
    Group,
    GroupShare,
    Membership,
    Project,
    ProjectShare,
    RepoFile,
    Token,
    User,
    World,
)

TODAY = "2026-06-15"
PERMISSIONS = "doc/user/permissions.md"
PUBLIC_ACCESS = "doc/user/public_access.md"
SHARING = "doc/user/project/members/sharing_projects_groups.md"
SUBGROUPS = "doc/user/group/subgroups/_index.md"
EXTERNAL = "doc/administration/external_users.md"
ADMIN_MODE = "doc/administration/settings/sign_in_restrictions.md"
TOKENS = "doc/user/profile/personal_access_tokens.md"
FEATURES = "doc/api/projects.md (Project feature visibility level)"
MODERATE = "doc/administration/moderate_users.md"
MEMBERS = "doc/user/project/members/_index.md"


@dataclass(frozen=True)
class GoldenCase:
    name: str
    rule: str  # the rule of docs/gitlab-simulator.md this case pins down
    doc: str  # the GitLab documentation page the answer comes from
    token: str | None  # a token name of the golden world, None for anonymous
    project: str  # full path
    can_read: bool  # may this caller read the repository?
    admin_mode: bool = False


USERS = [
    "root", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
    "judy", "kim", "mallory", "oscar", "peggy", "trent", "uma",
]  # fmt: skip


def golden_world() -> World:
    world = World(today_override=TODAY)
    for index, username in enumerate(USERS, start=1):
        world.users.append(
            User(
                id=index,
                username=username,
                name=username.title(),
                is_admin=username == "root",
                external=username == "carol",
                state="blocked" if username == "grace" else "active",
            )
        )
        world.tokens.append(
            Token(index, f"glpat-golden-{username}", index, f"{username}-api", ["read_api"])
        )
    user = {u.username: u for u in world.users}
    extra = [
        ("root-admin-mode", "root", ["api", "admin_mode"], None, False),
        ("root-read-repository", "root", ["read_repository"], None, False),
        ("root-read-repository-admin-mode", "root", ["read_repository", "admin_mode"], None, False),
        ("mallory-read-user", "mallory", ["read_user"], None, False),
        ("mallory-read-repository", "mallory", ["read_repository"], None, False),
        ("alice-expired", "alice", ["read_api"], "2026-06-15", False),
        ("alice-revoked", "alice", ["read_api"], None, True),
    ]
    for offset, (name, owner, scopes, expires, revoked) in enumerate(extra, start=100):
        world.tokens.append(
            Token(offset, f"glpat-golden-{name}", user[owner].id, name, scopes, expires, revoked)
        )

    groups = [
        (1, "acme", None, "public"),
        (2, "vision", 1, "internal"),
        (3, "private-lab", 2, "private"),
        (4, "partners", None, "private"),
        (5, "eu", 4, "private"),
        (6, "sub", 5, "private"),
        (7, "other", None, "private"),
        (8, "team", 7, "private"),
    ]
    for group_id, path, parent, visibility in groups:
        world.groups.append(Group(group_id, path, path.title(), parent, visibility))  # type: ignore[arg-type]

    def member(name: str, kind: str, source: int, level: int, expires: str | None = None) -> None:
        world.memberships.append(Membership(user[name].id, kind, source, level, expires))  # type: ignore[arg-type]

    member("alice", "group", 1, REPORTER)
    member("grace", "group", 1, OWNER)
    member("bob", "group", 3, DEVELOPER)
    member("heidi", "group", 3, PLANNER)
    member("frank", "group", 3, DEVELOPER, expires="2026-06-01")
    member("dave", "group", 4, MAINTAINER)
    member("ivan", "group", 4, MINIMAL_ACCESS)
    member("erin", "group", 5, MAINTAINER)
    member("uma", "group", 6, DEVELOPER)
    member("trent", "group", 7, DEVELOPER)
    member("peggy", "group", 8, DEVELOPER)
    world.group_shares.append(GroupShare(3, 8, REPORTER))

    projects = [
        # id, path, namespace kind, namespace id, visibility, repository access
        (1, "public-open", "group", 1, "public", "enabled"),
        (2, "public-members-only", "group", 1, "public", "private"),
        (3, "public-repo-disabled", "group", 1, "public", "disabled"),
        (4, "internal-open", "group", 2, "internal", "enabled"),
        (5, "internal-guest-external", "group", 2, "internal", "enabled"),
        (6, "internal-reporter-external", "group", 2, "internal", "enabled"),
        (7, "lab-private", "group", 3, "private", "enabled"),
        (8, "vision-private", "group", 2, "private", "enabled"),
        (9, "other-private-guest", "group", 7, "private", "enabled"),
        (10, "shared-capped", "group", 7, "private", "enabled"),
        (11, "shared-developer", "group", 7, "private", "enabled"),
        (12, "shared-expired", "group", 7, "private", "enabled"),
        (13, "personal-private", "user", user["oscar"].id, "private", "enabled"),
        (14, "partners-private", "group", 4, "private", "enabled"),
        (15, "personal-shared", "user", user["oscar"].id, "private", "enabled"),
    ]
    for project_id, path, kind, namespace, visibility, repository in projects:
        world.projects.append(
            Project(
                project_id,
                path,
                path.replace("-", " ").title(),
                kind,  # type: ignore[arg-type]
                namespace,
                visibility,  # type: ignore[arg-type]
                repository,  # type: ignore[arg-type]
                topics=["sharinghub:dataset"],
                files={"README.md": RepoFile("README.md", f"---\ntitle: {path}\n---\n# {path}\n")},
            )
        )
    member("oscar", "project", 13, OWNER)  # GitLab adds a personal project's creator
    member("oscar", "project", 15, OWNER)
    world.project_shares.append(ProjectShare(15, 5, REPORTER))
    member("kim", "project", 2, GUEST)
    member("carol", "project", 5, GUEST)
    member("carol", "project", 6, REPORTER)
    member("judy", "project", 9, GUEST)
    world.project_shares.append(ProjectShare(10, 5, GUEST))
    world.project_shares.append(ProjectShare(11, 5, DEVELOPER))
    world.project_shares.append(ProjectShare(12, 5, DEVELOPER, expires_at="2026-06-10"))
    world.changed()
    return world


def _case(
    name: str, rule: str, doc: str, token: str | None, project: str, can_read: bool, **kw: bool
) -> GoldenCase:
    return GoldenCase(name, rule, doc, token and f"glpat-golden-{token}", project, can_read, **kw)


LAB = "acme/vision/private-lab/lab-private"

GOLDEN_CASES = [
    # R1 visibility
    _case("anonymous reads a public project", "R1", PUBLIC_ACCESS, None, "acme/public-open", True),
    _case("anonymous cannot read an internal project", "R1", PUBLIC_ACCESS, None, "acme/vision/internal-open", False),
    _case("a signed-in user reads an internal project", "R1", PUBLIC_ACCESS, "mallory", "acme/vision/internal-open", True),
    _case("a signed-in non-member cannot read a private project", "R1", PUBLIC_ACCESS, "mallory", LAB, False),
    # R2 repository feature
    _case("members-only repository hides a public project from anonymous", "R2", FEATURES, None, "acme/public-members-only", False),
    _case("members-only repository hides it from signed-in non-members", "R2", FEATURES, "mallory", "acme/public-members-only", False),
    _case("a Guest reads a members-only repository of a public project", "R2", PERMISSIONS, "kim", "acme/public-members-only", True),
    _case("a disabled repository is read by nobody, not even an admin", "R2", "doc/user/project/settings/_index.md", "root", "acme/public-repo-disabled", False),
    # R3 roles on private projects
    _case("a Guest cannot read a private project's code", "R3", PERMISSIONS, "judy", "other/other-private-guest", False),
    _case("a Planner cannot read a private project's code (before 18.7)", "R3", PERMISSIONS, "heidi", LAB, False),
    _case("a Developer of the project's group reads it", "R3", PERMISSIONS, "bob", LAB, True),
    # R4 inheritance
    _case("a Reporter of an ancestor group reads a subgroup's private project", "R4", SUBGROUPS, "alice", LAB, True),
    _case("a subgroup member gets nothing from the parent group", "R4", "doc/development/permissions/predefined_roles.md", "bob", "acme/vision/vision-private", False),
    # R5 external users
    _case("an external user cannot read an internal project they are not in", "R5", EXTERNAL, "carol", "acme/vision/internal-open", False),
    _case("an external Guest member cannot read an internal project's code", "R5", f"{PERMISSIONS} footnote 1", "carol", "acme/vision/internal-guest-external", False),
    _case("an external Reporter member reads an internal project", "R5", EXTERNAL, "carol", "acme/vision/internal-reporter-external", True),
    _case("an external user reads a public project", "R5", EXTERNAL, "carol", "acme/public-open", True),
    # R6 project shares
    _case("a member of the invited group reads a shared project", "R6", SHARING, "erin", "other/shared-developer", True),
    _case("an inherited member of the invited group reads it too", "R6", SHARING, "dave", "other/shared-developer", True),
    _case("a member of the invited group's subgroup does not", "R6", SHARING, "uma", "other/shared-developer", False),
    _case("a share capped at Guest gives no code on a private project", "R6", SHARING, "erin", "other/shared-capped", False),
    _case("an expired share gives nothing", "R6", SHARING, "erin", "other/shared-expired", False),
    # R7 group shares
    _case("a direct member of the invited group reads the shared group's project", "R7", SHARING, "peggy", LAB, True),
    _case("an inherited member of the invited group does not (current GitLab)", "R7", SHARING, "trent", LAB, False),
    # R9 expiry, R10 blocked
    _case("an expired membership counts for nothing", "R9", MEMBERS, "frank", LAB, False),
    _case("a blocked user's token does not work", "R10", MODERATE, "grace", "acme/public-open", False),
    # R11 admins and Admin Mode
    _case("an admin reads any project", "R11", PERMISSIONS, "root", LAB, True),
    _case("with Admin Mode on, an admin token without admin_mode is a plain user", "R11", ADMIN_MODE, "root", LAB, False, admin_mode=True),
    _case("with Admin Mode on, a token with admin_mode acts as admin", "R11", ADMIN_MODE, "root-admin-mode", LAB, True, admin_mode=True),
    _case("with Admin Mode off, an admin's read_repository token reads any repository", "R11", TOKENS, "root-read-repository", LAB, True),
    _case("with Admin Mode on, an admin's read_repository token is a plain user's", "R11", ADMIN_MODE, "root-read-repository", LAB, False, admin_mode=True),
    _case("with Admin Mode on, read_repository with admin_mode acts as admin", "R11", ADMIN_MODE, "root-read-repository-admin-mode", LAB, True, admin_mode=True),
    # R12 tokens
    _case("a read_user token unlocks nothing beyond anonymous", "R12", TOKENS, "mallory-read-user", "acme/vision/internal-open", False),
    _case("a read_user token still sees what anonymous sees", "R12", TOKENS, "mallory-read-user", "acme/public-open", True),
    _case("a read_repository token reads repository files", "R12", TOKENS, "mallory-read-repository", "acme/vision/internal-open", True),
    _case("an expired token reads nothing", "R12", TOKENS, "alice-expired", "acme/public-open", False),
    _case("a revoked token reads nothing", "R12", TOKENS, "alice-revoked", "acme/public-open", False),
    # R13 personal namespaces
    _case("the namespace owner reads a private personal project", "R13", PERMISSIONS, "oscar", "oscar/personal-private", True),
    _case("nobody else does", "R13", PERMISSIONS, "alice", "oscar/personal-private", False),
    _case("a member of a group a personal project is shared with reads it", "R6", SHARING, "erin", "oscar/personal-shared", True),
    _case("a member of that group's subgroup does not", "R6", SHARING, "uma", "oscar/personal-shared", False),
    _case("nor does anyone outside the share", "R13", PERMISSIONS, "alice", "oscar/personal-shared", False),
    # R3 Minimal Access
    _case("Minimal Access on the top-level group gives no project access", "R3", PERMISSIONS, "ivan", "partners/partners-private", False),
    _case("a Maintainer of that group reads it", "R4", SUBGROUPS, "dave", "partners/partners-private", True),
]  # fmt: skip


def decide(world: World, case: GoldenCase) -> Decision:
    """The oracle's answer for a golden case: a token GitLab rejects (unknown, revoked,
    expired, or a blocked user's) reads nothing at all; otherwise the oracle decides."""
    world.admin_mode = case.admin_mode
    project = world.find_project(case.project)
    if project is None:
        raise KeyError(f"golden world has no project {case.project}")
    if case.token is None:
        return Oracle(world, Caller.anonymous()).can_read_repository(project)
    token = world.token_by_value[case.token]
    if token.revoked or world.expired(token.expires_at):
        return Decision(False, "R12 the token is revoked or expired: 401")
    if world.user_by_id[token.user_id].state != "active":
        return Decision(False, "R10 the user is blocked: 401")
    return Oracle(world, Caller.with_token(world, token)).can_read_repository(project)
