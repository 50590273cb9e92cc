"""GitLab's permission rules, as one oracle: who may see a project or group, and who may read
a project's repository. Every rule is written down, with the page of GitLab's documentation
it comes from, in docs/gitlab-simulator.md ("Permission rules"); the rule numbers (R1...)
below refer to that list.

A decision carries the rule that decided it, so that a failing parity test can say why.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gitlab_sim.world import (
    GUEST,
    MINIMAL_ACCESS,
    NO_ACCESS,
    OWNER,
    REPOSITORY_READ_SCOPES,
    Group,
    Project,
    Token,
    User,
    World,
)


@dataclass(frozen=True)
class Caller:
    """Who a request comes from: a user through a token, or nobody (anonymous)."""

    user: User | None = None
    scopes: frozenset[str] = frozenset()

    @classmethod
    def anonymous(cls) -> Caller:
        return cls()

    @classmethod
    def with_token(cls, world: World, token: Token) -> Caller:
        return cls(user=world.user_by_id[token.user_id], scopes=frozenset(token.scopes))

    @classmethod
    def of(cls, user: User, scopes: tuple[str, ...] = ("read_api",)) -> Caller:
        return cls(user=user, scopes=frozenset(scopes))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class Access:
    """A user's effective access level to something, and where it comes from."""

    level: int
    via: str

    @classmethod
    def none(cls) -> Access:
        return cls(NO_ACCESS, "no membership")


class Oracle:
    """Permission decisions for one caller in one world (cached: build one per request, or
    per user for bulk checks; drop it when the world changes)."""

    def __init__(self, world: World, caller: Caller) -> None:
        self.world = world
        self.caller = caller
        self._project_access: dict[int, Access] = {}
        self._group_access: dict[int, Access] = {}
        self._group_seen: dict[int, Decision] = {}

    # ------------------------------------------------------------- the caller

    @cached_property
    def user(self) -> User | None:
        """The user whose rights apply: None for anonymous, a blocked user (R10), or a token
        that can read neither the API nor repositories (R12): they count as anonymous."""
        user = self.caller.user
        if user is None or user.state != "active":
            return None
        if not (self.caller.scopes & REPOSITORY_READ_SCOPES):
            return None
        return user

    @cached_property
    def acts_as_admin(self) -> bool:
        # R11: admins see everything; with Admin Mode on, only through a token with the
        # admin_mode scope.
        user = self.user
        if user is None or not user.is_admin:
            return False
        return not self.world.admin_mode or "admin_mode" in self.caller.scopes

    @cached_property
    def _direct_group_levels(self) -> dict[int, int]:
        """Unexpired direct group memberships of the user (R9)."""
        levels: dict[int, int] = {}
        if self.user is None:
            return levels
        for membership in self.world.memberships_by_user.get(self.user.id, []):
            if membership.source_type != "group" or self.world.expired(membership.expires_at):
                continue
            levels[membership.source_id] = max(
                levels.get(membership.source_id, NO_ACCESS), membership.access_level
            )
        return levels

    def inherited_group_access(self, group_id: int) -> Access:
        """R4: a membership in a group applies to all its descendants, never to its
        ancestors. No shares here: sharing is not transitive (R6, R7)."""
        best = Access.none()
        for ancestor_id in self.world.ancestor_ids(group_id):
            level = self._direct_group_levels.get(ancestor_id, NO_ACCESS)
            if level > best.level:
                best = Access(level, f"member of group {self.world.group_full_path(ancestor_id)}")
        return best

    def group_access(self, group_id: int) -> Access:
        """Effective level in a group: inherited membership (R4), or a share of this group
        or an ancestor with a group the user is a *direct* member of, capped at the share's
        level (R7). Shares are not transitive."""
        if group_id not in self._group_access:
            self._group_access[group_id] = self._compute_group_access(group_id)
        return self._group_access[group_id]

    def _compute_group_access(self, group_id: int) -> Access:
        best = self.inherited_group_access(group_id)
        for ancestor_id in self.world.ancestor_ids(group_id):
            for share in self.world.group_shares_by_shared.get(ancestor_id, []):
                if self.world.expired(share.expires_at) or share.group_access <= MINIMAL_ACCESS:
                    continue
                direct = self._direct_group_levels.get(share.shared_with_group_id, NO_ACCESS)
                level = min(direct, share.group_access)
                if direct > MINIMAL_ACCESS and level > best.level:
                    best = Access(
                        level,
                        f"group {self.world.group_full_path(ancestor_id)} shared with "
                        f"{self.world.group_full_path(share.shared_with_group_id)} "
                        f"(max {share.group_access}), direct member ({direct})",
                    )
        return best

    def project_access(self, project: Project) -> Access:
        """Effective level in a project: the highest of a direct membership (R4), the
        membership of the namespace's owner (R13), the effective level in its group (R4, R7),
        and shares of the project with groups (R6)."""
        if project.id not in self._project_access:
            self._project_access[project.id] = self._compute_project_access(project)
        return self._project_access[project.id]

    def _compute_project_access(self, project: Project) -> Access:
        user = self.user
        if user is None:
            return Access.none()
        world = self.world
        best = Access.none()
        for membership in world.memberships_by_source.get(("project", project.id), []):
            if (
                membership.user_id == user.id
                and not world.expired(membership.expires_at)
                and membership.access_level > best.level
            ):
                best = Access(membership.access_level, "direct project member")
        if project.namespace_kind == "user":
            if project.namespace_id == user.id:
                return Access(OWNER, "owner of the personal namespace")
        else:
            in_group = self.group_access(project.namespace_id)
            if in_group.level > best.level:
                best = in_group
        # R6 holds for personal projects too: GitLab lets their owner share them with groups.
        for share in world.project_shares_by_project.get(project.id, []):
            if world.expired(share.expires_at) or share.group_access <= MINIMAL_ACCESS:
                continue
            # R6: direct, inherited and shared members of the invited group, not the members
            # of its subgroups.
            invited = self.group_access(share.group_id)
            level = min(invited.level, share.group_access)
            if invited.level > MINIMAL_ACCESS and level > best.level:
                best = Access(
                    level,
                    f"project shared with {world.group_full_path(share.group_id)} "
                    f"(max {share.group_access}); {invited.via}",
                )
        # R3: Minimal Access grants nothing inside a project.
        if best.level < GUEST:
            return Access(NO_ACCESS, best.via if best.level else "no membership")
        return best

    # ------------------------------------------------------------- decisions

    def can_see_project(self, project: Project) -> Decision:
        """R1: read_project, what lists and ``GET /projects/:id`` answer (404 otherwise)."""
        if self.acts_as_admin:
            return Decision(True, "R11 admin")
        if project.visibility == "public":
            return Decision(True, "R1 public project")
        user = self.user
        if project.visibility == "internal" and user is not None and not user.external:
            return Decision(True, "R1 internal project, signed-in non-external user")
        access = self.project_access(project)
        if access.level >= GUEST:
            return Decision(True, f"R1 member ({access.level}): {access.via}")
        return Decision(False, f"R1 {project.visibility} project, not a member")

    def can_read_repository(self, project: Project) -> Decision:
        """May the caller read the repository's content (README, tree, files)?"""
        if project.repository_access_level == "disabled":
            return Decision(False, "R2 repository feature disabled")
        seen = self.can_see_project(project)
        if not seen:
            return seen
        if self.acts_as_admin:
            return Decision(True, "R11 admin")
        access = self.project_access(project)
        floor = self.world.private_repository_min_level
        user = self.user
        if project.visibility == "private" or (
            project.visibility == "internal" and user is not None and user.external
        ):
            # R3: Guests cannot read the code of private projects; R5: nor external users
            # that of internal projects, where they need the same role.
            what = "private project" if project.visibility == "private" else "external user"
            if access.level >= floor:
                return Decision(True, f"R3 {what}, level {access.level}: {access.via}")
            return Decision(False, f"R3 {what}, level {access.level} below {floor}: {access.via}")
        if project.repository_access_level == "private":
            # R2: "Only Project Members"; on a public or internal project a Guest suffices.
            if access.level >= GUEST:
                return Decision(True, f"R2 members-only repository, level {access.level}")
            return Decision(False, "R2 members-only repository, not a member")
        return Decision(True, f"R1/R3 {project.visibility} project with readable repository")

    def can_see_group(self, group: Group) -> Decision:
        """R8: read_group, what ``/groups`` lists and ``GET /groups/:id`` answers."""
        if group.id not in self._group_seen:
            self._group_seen[group.id] = self._decide_group(group)
        return self._group_seen[group.id]

    def _decide_group(self, group: Group) -> Decision:
        if self.acts_as_admin:
            return Decision(True, "R11 admin")
        if group.visibility == "public":
            return Decision(True, "R8 public group")
        user = self.user
        if group.visibility == "internal" and user is not None and not user.external:
            return Decision(True, "R8 internal group, signed-in non-external user")
        if user is None:
            return Decision(False, f"R8 {group.visibility} group, anonymous")
        if self.group_access(group.id).level >= MINIMAL_ACCESS:
            return Decision(True, "R8 member of the group or an ancestor, or through a share")
        world = self.world
        for descendant_id in world.descendant_ids(group.id):
            if self._direct_group_levels.get(descendant_id, NO_ACCESS) >= MINIMAL_ACCESS:
                return Decision(True, "R8 member of a subgroup")
        for group_id in (group.id, *world.descendant_ids(group.id)):
            for project in world.projects_by_group.get(group_id, []):
                if self.project_access(project).level >= GUEST:
                    return Decision(True, "R8 member of a project in the group")
        return Decision(False, f"R8 {group.visibility} group, no access")

    def readable_project_ids(self) -> set[int]:
        return {p.id for p in self.world.projects if self.can_read_repository(p)}

    def visible_project_ids(self) -> set[int]:
        return {p.id for p in self.world.projects if self.can_see_project(p)}


def can_read_repository(world: World, caller: Caller, project: Project) -> Decision:
    """The oracle's one-call form: may this caller read this project's repository?"""
    return Oracle(world, caller).can_read_repository(project)
