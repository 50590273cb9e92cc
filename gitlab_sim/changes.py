"""The simulator's write side: every change to the world goes through ``Changes``, which
mutates the World, calls ``world.changed()`` and sends the hooks GitLab would send, to the
hooks that would receive them (gitlab_sim.hooks), through gitlab_sim.delivery.

What each change sends, and why, is in docs/gitlab-simulator.md ("Changes and hooks"); in
short, from GitLab's code (gitlabhq) and its pages ``doc/administration/system_hooks.md`` and
``doc/user/project/integrations/webhook_events.md``:

- projects: ``project_create``/``project_destroy`` to system hooks and, as Project Hook, to
  group webhooks; any other update ``project_update`` (``Projects::UpdateService``,
  ``Projects::ArchiveService``), or ``project_rename`` when the path changes; a transfer
  ``project_transfer``;
- pushes: a Push Hook or Tag Push Hook per ref, unless more than ``push_event_hooks_limit``
  refs of one kind and action (created, updated, deleted) are pushed at once
  (``Git::ProcessRefChangesService``); one ``repository_update`` system hook per push,
  whatever its size (``PostReceive#after_project_changes_hooks``);
- members: system hooks for project and group members, Member Hook for group members;
- groups: ``group_create``/``group_destroy`` (and Subgroup Hook to the parent), and
  ``group_rename`` only when the path changes;
- users: ``user_create``, ``user_rename`` (username), ``user_destroy``;
- nothing for shares, group moves, group visibility, user blocks, name-only renames of
  groups and users.

The simulator acts as an administrator: it checks what GitLab's models refuse (taken paths,
visibility above the parent's, pushes to archived projects) but not who may do it.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal, ParamSpec, TypeVar

from gitlab_sim import checks, entities, payloads
from gitlab_sim.checks import ChangeError
from gitlab_sim.delivery import Delivery, DeliveryRecord
from gitlab_sim.hooks import Dispatch, HookRegistry
from gitlab_sim.pushes import RefUpdate, apply_push, push_dispatches, ref_updates
from gitlab_sim.world import (
    OWNER,
    Group,
    GroupShare,
    Membership,
    Project,
    ProjectShare,
    Release,
    ReleaseLink,
    User,
    World,
)

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["UNSET", "ChangeError", "Changes", "RefUpdate"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # "not given", where None is a meaningful value (no expiry, top level)


def _change(method: Callable[P, R]) -> Callable[P, R]:
    """Run a public change under the registry's lock, as one numbered change, and always
    leave the world's lookups fresh."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        self = args[0]
        assert isinstance(self, Changes)
        with self.hooks.lock:
            self.hooks.change_counter += 1
            self.change_id = self.hooks.change_counter
            self.last = []
            try:
                return method(*args, **kwargs)
            finally:
                self.world.changed()

    return wrapper


class Changes:
    """The Python API of changes. ``last`` holds the deliveries the latest change queued."""

    def __init__(
        self,
        world: World,
        hooks: HookRegistry,
        delivery: Delivery,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.world = world
        self.hooks = hooks
        self.delivery = delivery
        self.clock = clock or (lambda: datetime.now(UTC))
        self.change_id = 0
        self.last: list[DeliveryRecord] = []

    # ================================================================ users

    @_change
    def create_user(
        self,
        username: str,
        name: str | None = None,
        *,
        is_admin: bool = False,
        external: bool = False,
        bot: bool = False,
    ) -> User:
        checks.check_path(username, "username")
        checks.namespace_free(self.world, username, parent_id=None)
        user = User(
            id=self._allocate("user"),
            username=username,
            name=name or username,
            is_admin=is_admin,
            external=external,
            bot=bot,
            created_at=self._stamp(),
        )
        self.world.users.append(user)
        self.world.changed()
        self._emit(self._system("system_hooks", payloads.system_user(user, "create", self._now())))
        return user

    @_change
    def update_user(
        self, user_id: int, *, username: str | None = None, name: str | None = None
    ) -> User:
        """A new username sends ``user_rename`` (and moves the personal projects with it,
        which sends nothing more); a new display name alone sends nothing."""
        user = self._user(user_id)
        old_username = user.username
        if username is not None and username != user.username:
            checks.check_path(username, "username")
            if username.lower() != user.username.lower():
                checks.namespace_free(self.world, username, parent_id=None)
            user.username = username
        if name is not None:
            user.name = name
        self.world.changed()
        if user.username != old_username:
            payload = payloads.system_user(user, "rename", self._now(), old_username)
            self._emit(self._system("system_hooks", payload))
        return user

    def rename_user(self, user_id: int, username: str) -> User:
        return self.update_user(user_id, username=username)

    @_change
    def block_user(self, user_id: int, blocked: bool = True) -> User:
        """GitLab has no hook for blocking or unblocking a user."""
        user = self._user(user_id)
        user.state = "blocked" if blocked else "active"
        return user

    @_change
    def delete_user(self, user_id: int) -> None:
        """``Users::DestroyService``: the memberships go one by one (each sending its
        removal), then the personal projects (each ``project_destroy``), then the user."""
        user = self._user(user_id)
        user.state = "blocked"
        for membership in sorted(
            self.world.memberships_by_user.get(user.id, []),
            key=lambda m: (m.source_type, m.source_id),
        ):
            self._remove_membership(membership)
        for project in sorted(self.world.projects, key=lambda p: p.id):
            if project.namespace_kind == "user" and project.namespace_id == user.id:
                self._destroy_project(project)
        payload = payloads.system_user(user, "destroy", self._now())
        self.world.tokens = [t for t in self.world.tokens if t.user_id != user.id]
        self.world.users.remove(user)
        self.world.changed()
        self._emit(self._system("system_hooks", payload))

    # =============================================================== groups

    @_change
    def create_group(
        self,
        path: str,
        name: str | None = None,
        *,
        parent_id: int | None = None,
        visibility: str = "private",
        description: str = "",
        creator_id: int | None = None,
    ) -> Group:
        """``group_create``, a Subgroup Hook to the parent's webhooks, and, when a creator
        is given, their Owner membership (``Groups::CreateService`` adds it)."""
        checks.check_path(path, "path")
        checks.check_visibility(visibility)
        if parent_id is not None:
            parent = self._group(parent_id)
            checks.not_above(visibility, parent.visibility, "the parent group")
        creator = self._user(creator_id) if creator_id is not None else None
        checks.namespace_free(self.world, path, parent_id=parent_id)
        group = Group(
            id=self._allocate("group"),
            path=path,
            name=name or path,
            parent_id=parent_id,
            visibility=visibility,  # type: ignore[arg-type]
            description=description,
            created_at=self._stamp(),
        )
        self.world.groups.append(group)
        self.world.changed()
        now = self._now()
        self._emit(
            self._system("system_hooks", payloads.system_group(self.world, group, "create", now))
        )
        if parent_id is not None:
            payload = payloads.subgroup(self.world, group, "create", now)
            self._emit(Dispatch("subgroup_hooks", "subgroup_events", payload, group_id=parent_id))
        if creator is not None:
            self._add_membership(Membership(creator.id, "group", group.id, OWNER))
        return group

    @_change
    def update_group(
        self,
        group_id: int,
        *,
        path: str | None = None,
        name: str | None = None,
        parent_id: int | None = UNSET,
        visibility: str | None = None,
    ) -> Group:
        """Only a new path sends anything (``group_rename``, from ``Group#path_changed_hook``).
        Moving a group (``parent_id``; None for top level), renaming its display name or
        changing its visibility sends nothing."""
        world = self.world
        group = self._group(group_id)
        old_path, old_full_path = group.path, world.group_full_path(group.id)
        new_parent = group.parent_id if parent_id is UNSET else parent_id
        if new_parent is not None:
            self._group(new_parent)  # it must exist
            if new_parent == group.id or new_parent in world.descendant_ids(group.id):
                raise ChangeError("a group cannot move under itself or its descendants")
        new_path = group.path if path is None else path
        if path is not None:
            checks.check_path(path, "path")
        if (new_path.lower(), new_parent) != (group.path.lower(), group.parent_id):
            checks.namespace_free(self.world, new_path, parent_id=new_parent)
        if visibility is not None:
            checks.check_visibility(visibility)
            ceiling = None if new_parent is None else world.group_by_id[new_parent].visibility
            if ceiling is not None:
                checks.not_above(visibility, ceiling, "the parent group")
            checks.not_below_children(world, group, visibility)
        group.path, group.parent_id = new_path, new_parent
        if name is not None:
            group.name = name
        if visibility is not None:
            group.visibility = visibility  # type: ignore[assignment]
        world.changed()
        if parent_id is not UNSET and new_parent is not None and visibility is None:
            # Groups::TransferService lowers a group (and what it holds) to its new parent.
            parent = world.group_by_id[new_parent]
            self._lower_subtree(group, parent.visibility)
        if group.path != old_path:
            payload = payloads.system_group(
                world, group, "rename", self._now(), old_path, old_full_path
            )
            self._emit(self._system("system_hooks", payload))
        return group

    def rename_group(self, group_id: int, path: str, name: str | None = None) -> Group:
        return self.update_group(group_id, path=path, name=name)

    def move_group(self, group_id: int, parent_id: int | None) -> Group:
        return self.update_group(group_id, parent_id=parent_id)

    def set_group_visibility(self, group_id: int, visibility: str) -> Group:
        return self.update_group(group_id, visibility=visibility)

    @_change
    def delete_group(self, group_id: int) -> None:
        """``Groups::DestroyService``: the group's projects, then its subgroups (the same
        way, depth first), then the group; each sends what deleting it alone would."""
        self._destroy_group(self._group(group_id))

    # ============================================================= projects

    @_change
    def create_project(
        self,
        path: str,
        name: str | None = None,
        *,
        group_id: int | None = None,
        user_id: int | None = None,
        visibility: str = "private",
        description: str | None = None,
        topics: Iterable[str] = (),
        repository_access_level: str = "enabled",
        default_branch: str = "main",
        creator_id: int | None = None,
    ) -> Project:
        """An empty project in a group (``group_id``) or a user's personal namespace
        (``user_id``): ``project_create`` to system hooks and group webhooks; a personal
        project also makes its owner an Owner member (``user_add_to_team``)."""
        if (group_id is None) == (user_id is None):
            raise ChangeError("give exactly one of group_id and user_id")
        checks.check_path(path, "path")
        checks.check_visibility(visibility)
        checks.check_repository_level(repository_access_level)
        if group_id is not None:
            group = self._group(group_id)
            checks.not_above(visibility, group.visibility, "its group")
            kind: Literal["group", "user"] = "group"
            namespace_id = group_id
        else:
            self._user(user_id)  # type: ignore[arg-type]
            kind, namespace_id = "user", user_id  # type: ignore[assignment]
        checks.project_path_free(self.world, kind, namespace_id, path)
        stamp = self._stamp()
        project = Project(
            id=self._allocate("project"),
            path=path,
            name=name or path,
            namespace_kind=kind,
            namespace_id=namespace_id,
            visibility=visibility,  # type: ignore[arg-type]
            repository_access_level=repository_access_level,  # type: ignore[arg-type]
            topics=_topics(topics),
            description=description,
            default_branch=default_branch,
            created_at=stamp,
            last_activity_at=stamp,
            creator_id=creator_id if creator_id is not None else user_id,
        )
        self.world.projects.append(project)
        self.world.changed()
        self._emit_project(project, "create")
        if kind == "user":
            self._add_membership(Membership(namespace_id, "project", project.id, OWNER))
        return project

    @_change
    def update_project(
        self,
        project_id: int,
        *,
        name: str | None = None,
        path: str | None = None,
        description: str | None = UNSET,
        visibility: str | None = None,
        topics: Iterable[str] | None = None,
        repository_access_level: str | None = None,
        archived: bool | None = None,
    ) -> Project:
        """``project_rename`` when the path changes, else ``project_update`` (which GitLab
        sends for any successful update, even one that changes nothing)."""
        world = self.world
        project = self._project(project_id)
        old_full_path = world.project_full_path(project)
        if path is not None and path != project.path:
            checks.check_path(path, "path")
            if path.lower() != project.path.lower():
                checks.project_path_free(
                    self.world, project.namespace_kind, project.namespace_id, path
                )
        if visibility is not None:
            checks.check_visibility(visibility)
            if project.namespace_kind == "group":
                group = world.group_by_id[project.namespace_id]
                checks.not_above(visibility, group.visibility, "its group")
        if repository_access_level is not None:
            checks.check_repository_level(repository_access_level)
        if path is not None:
            project.path = path
        if name is not None:
            project.name = name
        if description is not UNSET:
            project.description = description
        if visibility is not None:
            project.visibility = visibility  # type: ignore[assignment]
        if topics is not None:
            project.topics = _topics(topics)
        if repository_access_level is not None:
            project.repository_access_level = repository_access_level  # type: ignore[assignment]
        if archived is not None:
            project.archived = archived
        project.last_activity_at = self._stamp()
        world.changed()
        if world.project_full_path(project) != old_full_path:
            self._emit_project(project, "rename", old_full_path)
        else:
            self._emit_project(project, "update")
        return project

    def rename_project(self, project_id: int, path: str, name: str | None = None) -> Project:
        return self.update_project(project_id, path=path, name=name)

    def archive_project(self, project_id: int, archived: bool = True) -> Project:
        return self.update_project(project_id, archived=archived)

    def set_project_visibility(self, project_id: int, visibility: str) -> Project:
        return self.update_project(project_id, visibility=visibility)

    def set_topics(self, project_id: int, topics: Iterable[str]) -> Project:
        return self.update_project(project_id, topics=topics)

    def set_repository_access(self, project_id: int, level: str) -> Project:
        return self.update_project(project_id, repository_access_level=level)

    @_change
    def transfer_project(
        self, project_id: int, *, group_id: int | None = None, user_id: int | None = None
    ) -> Project:
        """``project_transfer``. A project more visible than its new group is lowered to
        the group's visibility, as ``Projects::TransferService`` does."""
        if (group_id is None) == (user_id is None):
            raise ChangeError("give exactly one of group_id and user_id")
        world = self.world
        project = self._project(project_id)
        old_full_path = world.project_full_path(project)
        if group_id is not None:
            target = self._group(group_id)
            kind: Literal["group", "user"] = "group"
            namespace_id = group_id
        else:
            self._user(user_id)  # type: ignore[arg-type]
            kind, namespace_id = "user", user_id  # type: ignore[assignment]
        if (kind, namespace_id) == (project.namespace_kind, project.namespace_id):
            raise ChangeError("the project is already in that namespace")
        checks.project_path_free(self.world, kind, namespace_id, project.path)
        project.namespace_kind, project.namespace_id = kind, namespace_id
        if kind == "group" and checks.level(project.visibility) > checks.level(target.visibility):
            project.visibility = target.visibility
        project.last_activity_at = self._stamp()
        world.changed()
        self._emit_project(project, "transfer", old_full_path)
        if kind == "user":
            # Projects::TransferService: the new namespace's owner becomes an Owner member.
            owner = self._find_membership("project", project.id, namespace_id)
            if owner is None:
                self._add_membership(Membership(namespace_id, "project", project.id, OWNER))
            elif owner.access_level < OWNER:
                owner.access_level = OWNER
                world.changed()
                payload = payloads.system_member(world, owner, "update", self._now())
                self._emit(self._system("system_hooks", payload))
        return project

    @_change
    def delete_project(self, project_id: int) -> None:
        self._destroy_project(self._project(project_id))

    # ====================================================== pushes and tags

    @_change
    def push(
        self, project_id: int, user_id: int, refs: Iterable[RefUpdate | dict[str, Any]]
    ) -> list[dict[str, str]]:
        """One ``git push`` of one or more refs. Returns the ref changes, as the
        ``repository_update`` hook lists them."""
        return self._push(self._project(project_id), self._user(user_id), ref_updates(refs))

    def push_files(
        self,
        project_id: int,
        user_id: int,
        files: dict[str, str],
        *,
        removed: Iterable[str] = (),
        branch: str | None = None,
        message: str | None = None,
    ) -> list[dict[str, str]]:
        """One commit on one branch (the default branch unless named)."""
        project = self._project(project_id)
        update = RefUpdate(
            branch or project.default_branch, dict(files), list(removed), message=message
        )
        return self.push(project_id, user_id, [update])

    @_change
    def create_tag(
        self, project_id: int, user_id: int, tag: str, ref: str | None = None
    ) -> list[dict[str, str]]:
        """A lightweight tag on ``ref`` (a branch; the default branch if None), as the Tags
        API makes it: it reaches GitLab's post-receive like a pushed tag."""
        update = RefUpdate(f"refs/tags/{tag}", target=ref)
        return self._push(self._project(project_id), self._user(user_id), [update])

    @_change
    def create_release(
        self,
        project_id: int,
        user_id: int,
        tag: str,
        *,
        name: str | None = None,
        description: str = "",
        links: Iterable[dict[str, str]] = (),
        ref: str | None = None,
        released_at: str | None = None,
    ) -> Release:
        """A release (Release Hook, ``action: create``), with its tag created first (a Tag
        Push Hook) when the tag does not exist yet, as the Releases API does with ``ref``."""
        project = self._project(project_id)
        user = self._user(user_id)
        if any(r.tag_name == tag for r in project.releases):
            raise ChangeError(f"release {tag} already exists", 409)
        asset_links = _links(links)  # checked before anything happens
        if tag not in project.tags:
            self._push(project, user, [RefUpdate(f"refs/tags/{tag}", target=ref)])
        sha = project.tags.get(tag) or entities.commit_sha(self.world, project)
        stamp = self._stamp()
        next_link = self.world.next_id("link")
        release = Release(
            tag_name=tag,
            name=name or tag,
            description=description,
            created_at=stamp,
            released_at=released_at or stamp,
            links=[
                ReleaseLink(next_link + i, link_name, url, kind)  # type: ignore[arg-type]
                for i, (link_name, url, kind) in enumerate(asset_links)
            ],
            id=self._allocate("release"),
        )
        project.releases.append(release)
        project.last_activity_at = stamp
        self.world.changed()
        payload = payloads.release(
            self.world, project, release, action="create", sha=sha, author=user
        )
        self._emit(Dispatch("release_hooks", "releases_events", payload, project_id=project.id))
        return release

    # ============================================================== members

    @_change
    def add_member(
        self,
        source_type: Literal["group", "project"],
        source_id: int,
        user_id: int,
        access_level: int,
        expires_at: str | None = None,
    ) -> Membership:
        self._source(source_type, source_id)
        self._user(user_id)
        checks.check_level(self.world, source_type, source_id, access_level)
        checks.check_expiry(self.world, expires_at)
        if self._find_membership(source_type, source_id, user_id) is not None:
            raise ChangeError("Member already exists", 409)
        membership = Membership(user_id, source_type, source_id, access_level, expires_at)
        self._add_membership(membership)
        return membership

    @_change
    def update_member(
        self,
        source_type: Literal["group", "project"],
        source_id: int,
        user_id: int,
        *,
        access_level: int | None = None,
        expires_at: str | None = UNSET,
    ) -> Membership:
        """System hooks hear of every update (``Member#post_update_hook``); group webhooks
        only of a new role or expiry date (``EE::GroupMember#post_update_hook``)."""
        membership = self._membership(source_type, source_id, user_id)
        if access_level is not None:
            checks.check_level(self.world, source_type, source_id, access_level)
            if access_level < OWNER:
                self._keep_personal_owner(membership)
        if expires_at is not UNSET:
            checks.check_expiry(self.world, expires_at)
        before = (membership.access_level, membership.expires_at)
        if access_level is not None:
            membership.access_level = access_level
        if expires_at is not UNSET:
            membership.expires_at = expires_at
        self.world.changed()
        now = self._now()
        payload = payloads.system_member(self.world, membership, "update", now)
        self._emit(self._system("system_hooks", payload))
        if source_type == "group" and before != (membership.access_level, membership.expires_at):
            self._emit(
                Dispatch(
                    "member_hooks",
                    "member_events",
                    payloads.member_hook(self.world, membership, "update", now),
                    group_id=source_id,
                )
            )
        return membership

    @_change
    def remove_member(
        self, source_type: Literal["group", "project"], source_id: int, user_id: int
    ) -> Membership:
        membership = self._membership(source_type, source_id, user_id)
        self._keep_personal_owner(membership)
        self._remove_membership(membership)
        return membership

    def _keep_personal_owner(self, membership: Membership) -> None:
        """ProjectMemberPolicy: a personal project's owner cannot be removed or lowered."""
        if membership.source_type != "project":
            return
        project = self.world.project_by_id[membership.source_id]
        if project.namespace_kind == "user" and project.namespace_id == membership.user_id:
            raise ChangeError("the owner of a personal project cannot leave it or be lowered", 403)

    @_change
    def expire_members(self) -> list[Membership]:
        """GitLab's ``RemoveExpiredMembersWorker`` (a cron job): every membership whose
        ``expires_at`` has come (``world.today()``) is removed, each sending its removal."""
        expired = [m for m in self.world.memberships if self.world.expired(m.expires_at)]
        for membership in sorted(expired, key=lambda m: (m.source_type, m.source_id, m.user_id)):
            self._remove_membership(membership)
        return expired

    # =============================================================== shares

    @_change
    def share_project(
        self, project_id: int, group_id: int, group_access: int, expires_at: str | None = None
    ) -> ProjectShare:
        """GitLab sends no hook for sharing."""
        self._project(project_id)
        self._group(group_id)
        checks.check_share_level(group_access)
        checks.check_expiry(self.world, expires_at)
        if any(s.group_id == group_id for s in self.world.project_shares_by_project[project_id]):
            raise ChangeError("the project is already shared with that group", 409)
        share = ProjectShare(project_id, group_id, group_access, expires_at)
        self.world.project_shares.append(share)
        return share

    @_change
    def unshare_project(self, project_id: int, group_id: int) -> None:
        before = len(self.world.project_shares)
        self.world.project_shares = [
            s
            for s in self.world.project_shares
            if (s.project_id, s.group_id) != (project_id, group_id)
        ]
        if len(self.world.project_shares) == before:
            raise ChangeError("no such share", 404)

    @_change
    def share_group(
        self, group_id: int, with_group_id: int, group_access: int, expires_at: str | None = None
    ) -> GroupShare:
        """GitLab sends no hook for sharing."""
        self._group(group_id)
        self._group(with_group_id)
        if group_id == with_group_id:
            raise ChangeError("a group cannot be shared with itself")
        checks.check_share_level(group_access)
        checks.check_expiry(self.world, expires_at)
        if any(
            s.shared_with_group_id == with_group_id
            for s in self.world.group_shares_by_shared[group_id]
        ):
            raise ChangeError("the group is already shared with that group", 409)
        share = GroupShare(group_id, with_group_id, group_access, expires_at)
        self.world.group_shares.append(share)
        return share

    @_change
    def unshare_group(self, group_id: int, with_group_id: int) -> None:
        before = len(self.world.group_shares)
        self.world.group_shares = [
            s
            for s in self.world.group_shares
            if (s.shared_group_id, s.shared_with_group_id) != (group_id, with_group_id)
        ]
        if len(self.world.group_shares) == before:
            raise ChangeError("no such share", 404)

    # ====================================================== the machinery

    def _emit(self, dispatch: Dispatch) -> list[DeliveryRecord]:
        """Queue ``dispatch`` for every hook that receives it in the world as it is now:
        one delivery each, with its own ids."""
        records = [
            self.delivery.enqueue(
                hook,
                trigger=dispatch.trigger,
                event=dispatch.header,
                payload=copy.deepcopy(dispatch.payload),
                instance_url=self.world.instance_url,
                change_id=self.change_id,
            )
            for hook in self.hooks.recipients(self.world, dispatch)
        ]
        self.last.extend(records)
        return records

    @staticmethod
    def _system(trigger: str, payload: dict[str, Any], toggle: str | None = None) -> Dispatch:
        return Dispatch(trigger, toggle, payload, system=True)

    def _emit_project(self, project: Project, event: str, old_full_path: str | None = None) -> None:
        now = self._now()
        payload = payloads.system_project(self.world, project, event, now, old_full_path)
        self._emit(self._system("system_hooks", payload))
        # Group webhooks' Project events are documented for create and destroy only.
        if event in ("create", "destroy") and project.namespace_kind == "group":
            payload = payloads.group_project(self.world, project, event, now)
            self._emit(
                Dispatch("project_hooks", "project_events", payload, group_id=project.namespace_id)
            )

    def _add_membership(self, membership: Membership) -> None:
        membership.created_at = self._stamp()
        self.world.memberships.append(membership)
        self.world.changed()
        now = self._now()
        payload = payloads.system_member(self.world, membership, "create", now)
        self._emit(self._system("system_hooks", payload))
        if membership.source_type == "group":
            payload = payloads.member_hook(self.world, membership, "create", now)
            self._emit(
                Dispatch("member_hooks", "member_events", payload, group_id=membership.source_id)
            )

    def _remove_membership(self, membership: Membership, *, hooks_from: int | None = UNSET) -> None:
        """Remove one membership and send its removal. ``hooks_from`` is the group whose
        webhooks (and its ancestors') hear of it: the member's group by default, its parent
        while the group itself is being deleted."""
        now = self._now()
        system = payloads.system_member(self.world, membership, "destroy", now)
        member = (
            payloads.member_hook(self.world, membership, "destroy", now)
            if membership.source_type == "group"
            else None
        )
        self.world.memberships.remove(membership)
        self.world.changed()
        self._emit(self._system("system_hooks", system))
        if member is not None:
            group_id = membership.source_id if hooks_from is UNSET else hooks_from
            if group_id is not None:
                self._emit(Dispatch("member_hooks", "member_events", member, group_id=group_id))

    def _destroy_project(self, project: Project) -> None:
        """``Projects::DestroyService``: ``project_destroy`` to system hooks and group
        webhooks; members, shares and the project's webhooks go without a word (the
        members with ``dependent: :delete_all``, which runs no callbacks)."""
        world = self.world
        now = self._now()
        system = payloads.system_project(world, project, "destroy", now)
        group_payload = (
            payloads.group_project(world, project, "destroy", now)
            if project.namespace_kind == "group"
            else None
        )
        world.projects.remove(project)
        world.memberships = [
            m
            for m in world.memberships
            if not (m.source_type == "project" and m.source_id == project.id)
        ]
        world.project_shares = [s for s in world.project_shares if s.project_id != project.id]
        self.hooks.forget(project_ids=[project.id])
        world.changed()
        self._emit(self._system("system_hooks", system))
        if group_payload is not None:
            self._emit(
                Dispatch(
                    "project_hooks",
                    "project_events",
                    group_payload,
                    group_id=project.namespace_id,
                )
            )

    def _destroy_group(self, group: Group) -> None:
        world = self.world
        for project in sorted(world.projects_by_group.get(group.id, []), key=lambda p: p.id):
            self._destroy_project(project)
        for child in sorted(world.children.get(group.id, []), key=lambda g: g.id):
            self._destroy_group(child)
        # Group members are destroyed one by one (dependent: :destroy), each sending its
        # removal; the group's own webhooks are gone by then, its ancestors' still hear.
        for membership in sorted(
            world.memberships_by_source.get(("group", group.id), []), key=lambda m: m.user_id
        ):
            self._remove_membership(membership, hooks_from=group.parent_id)
        now = self._now()
        system = payloads.system_group(world, group, "destroy", now)
        sub = payloads.subgroup(world, group, "destroy", now) if group.parent_id else None
        world.group_shares = [
            s
            for s in world.group_shares
            if group.id not in (s.shared_group_id, s.shared_with_group_id)
        ]
        world.project_shares = [s for s in world.project_shares if s.group_id != group.id]
        world.groups.remove(group)
        self.hooks.forget(group_ids=[group.id])
        world.changed()
        self._emit(self._system("system_hooks", system))
        if sub is not None:
            self._emit(Dispatch("subgroup_hooks", "subgroup_events", sub, group_id=group.parent_id))

    # ---------------------------------------------------------------- push

    def _push(self, project: Project, user: User, updates: list[RefUpdate]) -> list[dict[str, str]]:
        changes = apply_push(self.world, project, user, updates, self._now())
        project.last_activity_at = self._stamp()
        self.world.changed()
        limit = self.hooks.push_event_hooks_limit
        for dispatch in push_dispatches(self.world, project, user, changes, limit):
            self._emit(dispatch)
        return [change.summary() for change in changes]

    # ------------------------------------------------------------- lookups

    def _user(self, user_id: int) -> User:
        user = self.world.user_by_id.get(user_id)
        if user is None:
            raise ChangeError(f"no user {user_id}", 404)
        return user

    def _group(self, group_id: int) -> Group:
        group = self.world.group_by_id.get(group_id)
        if group is None:
            raise ChangeError(f"no group {group_id}", 404)
        return group

    def _project(self, project_id: int) -> Project:
        project = self.world.project_by_id.get(project_id)
        if project is None:
            raise ChangeError(f"no project {project_id}", 404)
        return project

    def _source(self, source_type: str, source_id: int) -> Group | Project:
        if source_type == "group":
            return self._group(source_id)
        if source_type == "project":
            return self._project(source_id)
        raise ChangeError("source_type must be group or project")

    def _find_membership(self, source_type: str, source_id: int, user_id: int) -> Membership | None:
        self._source(source_type, source_id)
        for membership in self.world.memberships_by_source.get((source_type, source_id), []):
            if membership.user_id == user_id:
                return membership
        return None

    def _membership(self, source_type: str, source_id: int, user_id: int) -> Membership:
        membership = self._find_membership(source_type, source_id, user_id)
        if membership is None:
            raise ChangeError(f"user {user_id} is not a member of {source_type} {source_id}", 404)
        return membership

    def _lower_subtree(self, group: Group, ceiling: str) -> None:
        world = self.world
        for group_id in [group.id, *world.descendant_ids(group.id)]:
            each = world.group_by_id[group_id]
            if checks.level(each.visibility) > checks.level(ceiling):
                each.visibility = ceiling  # type: ignore[assignment]
            for project in world.projects_by_group.get(group_id, []):
                if checks.level(project.visibility) > checks.level(ceiling):
                    project.visibility = ceiling  # type: ignore[assignment]
        world.changed()

    # ---------------------------------------------------------------- misc

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def _stamp(self) -> str:
        """The world's timestamp format: 2024-01-01T00:00:00.000Z."""
        return self._now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def _allocate(self, kind: Literal["user", "group", "project", "release"]) -> int:
        """A fresh id, never one a deleted object had (GitLab's ids never come back)."""
        if kind == "release":
            current = max((r.id for p in self.world.projects for r in p.releases), default=0)
        else:
            current = self.world.next_id(kind) - 1
        floor = self.hooks.id_floor.get(kind, 0)
        new_id = max(current, floor) + 1
        self.hooks.id_floor[kind] = new_id
        return new_id


def _topics(topics: Iterable[str]) -> list[str]:
    """GitLab strips topics and drops duplicates (case-insensitively)."""
    seen: dict[str, str] = {}
    for topic in topics:
        cleaned = topic.strip()
        if cleaned and cleaned.lower() not in seen:
            seen[cleaned.lower()] = cleaned
    return list(seen.values())


def _links(links: Iterable[dict[str, str]]) -> list[tuple[str, str, str]]:
    result = []
    for link in links:
        if not isinstance(link, dict) or not {"name", "url"} <= set(link):
            raise ChangeError("each release link has a name and a url")
        link_type = link.get("link_type", "other")
        if link_type not in ("other", "runbook", "image", "package"):
            raise ChangeError("link_type must be other, runbook, image or package")
        result.append((link["name"], link["url"], link_type))
    return result
