"""What a ``git push`` does: to the repository (the default branch's files, the heads of
other branches, the tags), and which push events GitLab makes of it.

GitLab's post-receive (``app/workers/post_receive.rb``, ``Git::ProcessRefChangesService``,
``Git::BaseHooksService``) runs, per push: the branch changes, then the tag changes, each
grouped by action (created, pushed, removed), each ref sending a Push Hook or Tag Push Hook
to project and group webhooks and system hooks, except in a group of more than
``push_event_hooks_limit`` refs (3 by default), which sends none; then one
``repository_update`` to system hooks, whatever the size of the push.

The simulator keeps files for the default branch only: a commit on another branch gets a
head of its own, and its added/modified lists are relative to the default branch.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gitlab_sim import entities, payloads
from gitlab_sim.checks import ChangeError
from gitlab_sim.hooks import Dispatch
from gitlab_sim.payloads import BLANK_SHA
from gitlab_sim.world import Project, RepoFile, User, World


@dataclass
class RefUpdate:
    """One ref of a push. ``ref`` is a branch name or a full ``refs/heads/...`` or
    ``refs/tags/...`` ref. Files are committed in one commit; a new branch or tag without
    files points at ``target`` (a branch, by default the default branch)."""

    ref: str
    files: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    delete: bool = False
    message: str | None = None
    target: str | None = None

    @property
    def full_ref(self) -> str:
        return self.ref if self.ref.startswith("refs/") else f"refs/heads/{self.ref}"

    @property
    def is_tag(self) -> bool:
        return self.full_ref.startswith("refs/tags/")

    @property
    def short_name(self) -> str:
        return self.full_ref.split("/", 2)[2]


@dataclass
class RefChange:
    """A ref as a push changed it: what the push and repository update hooks describe."""

    ref: str
    before: str
    after: str
    is_tag: bool
    protected: bool
    commits: list[dict[str, Any]]

    @property
    def action(self) -> str:
        if self.before == BLANK_SHA:
            return "created"
        if self.after == BLANK_SHA:
            return "removed"
        return "pushed"

    def summary(self) -> dict[str, str]:
        return {"before": self.before, "after": self.after, "ref": self.ref}


def ref_updates(refs: Iterable[RefUpdate | dict[str, Any]]) -> list[RefUpdate]:
    """Ref updates from objects or from JSON (the control API)."""
    updates = []
    for ref in refs:
        if isinstance(ref, RefUpdate):
            updates.append(ref)
            continue
        if not isinstance(ref, dict) or not isinstance(ref.get("ref"), str):
            raise ChangeError("each ref is an object with a ref name")
        try:
            update = RefUpdate(**ref)
        except TypeError as problem:
            raise ChangeError(f"bad ref: {problem}") from None
        if not isinstance(update.files, dict) or not all(
            isinstance(v, str) for v in update.files.values()
        ):
            raise ChangeError("files maps paths to text contents")
        updates.append(update)
    return updates


def apply_push(
    world: World, project: Project, user: User, updates: list[RefUpdate], now: datetime
) -> list[RefChange]:
    """Apply a push to the repository, all or nothing, and describe each ref."""
    if not updates:
        raise ChangeError("a push needs at least one ref")
    if project.archived:
        raise ChangeError("the project is archived: its repository is read-only", 403)
    if project.repository_access_level == "disabled":
        raise ChangeError("the project's repository is disabled", 403)
    if user.state != "active":
        raise ChangeError("a blocked user cannot push", 403)
    refs = [u.full_ref for u in updates]
    if len(set(refs)) != len(refs):
        raise ChangeError("a push names each ref once")
    saved = (dict(project.files), dict(project.branches), dict(project.tags))
    try:
        return [_apply(world, project, user, update, now) for update in updates]
    except ChangeError:
        project.files, project.branches, project.tags = saved
        raise
    finally:
        world.changed()


def push_dispatches(
    world: World, project: Project, user: User, changes: list[RefChange], limit: int
) -> list[Dispatch]:
    """The hooks a push sends, in GitLab's order."""
    dispatches: list[Dispatch] = []
    for is_tag in (False, True):
        groups: dict[str, list[RefChange]] = {}
        for change in changes:
            if change.is_tag == is_tag:
                groups.setdefault(change.action, []).append(change)
        for group in groups.values():
            if len(group) <= limit:
                for change in group:
                    dispatches += _ref_dispatches(world, project, user, change)
    summary = [change.summary() for change in changes]
    dispatches.append(
        Dispatch(
            "repository_update_hooks",
            "repository_update_events",
            payloads.repository_update(world, project, user, summary),
            system=True,
        )
    )
    return dispatches


def _ref_dispatches(
    world: World, project: Project, user: User, change: RefChange
) -> list[Dispatch]:
    if change.is_tag:
        trigger, toggle = "tag_push_hooks", "tag_push_events"
        refs = {"ref": change.ref, "before": change.before, "after": change.after}
        system = payloads.tag_push(world, project, user, system=True, **refs)
        hook = payloads.tag_push(world, project, user, system=False, **refs)
    else:
        trigger, toggle = "push_hooks", "push_events"
        common: dict[str, Any] = {
            "ref": change.ref,
            "before": change.before,
            "after": change.after,
            "commits": copy.deepcopy(change.commits),
            "protected": change.protected,
        }
        system = payloads.push(world, project, user, system=True, **common)
        hook = payloads.push(world, project, user, system=False, **common)
    # Project#execute_hooks: project and group webhooks, then system hooks.
    return [
        Dispatch(trigger, toggle, hook, project_id=project.id),
        Dispatch(trigger, toggle, system, system=True),
    ]


def _apply(
    world: World, project: Project, user: User, update: RefUpdate, now: datetime
) -> RefChange:
    name = update.short_name
    head = entities.commit_sha(world, project) if project.files else None
    if update.is_tag:
        return _apply_tag(world, project, update)
    is_default = name == project.default_branch
    if update.delete:
        if is_default:
            raise ChangeError("the default branch cannot be deleted")
        if name not in project.branches:
            raise ChangeError(f"no branch {name}", 404)
        before = project.branches.pop(name)
        return RefChange(update.full_ref, before, BLANK_SHA, False, False, [])
    message = update.message or _message(update)
    if is_default:
        before = head or BLANK_SHA
        added, modified, removed = _commit_files(world, project, update)
        after = entities.commit_sha(world, project)
        if not (added or modified or removed):
            raise ChangeError(f"{name}: nothing to commit")
    elif name in project.branches or update.files or update.removed:
        before = project.branches.get(name, BLANK_SHA)
        base = before if before != BLANK_SHA else head
        if base is None:
            raise ChangeError("the repository is empty: push the default branch first")
        if not (update.files or update.removed):
            raise ChangeError(f"{name}: nothing to commit")
        added = sorted(p for p in update.files if p not in project.files)
        modified = sorted(p for p in update.files if p in project.files)
        removed = sorted(update.removed)
        after = entities.sha1(
            "commit",
            base,
            message,
            *(f"{p}:{c}" for p, c in sorted(update.files.items())),
            *(f"-{p}" for p in removed),
        )
        project.branches[name] = after
    else:
        # A new branch with no new commit points at its target; its commits are empty.
        after = _branch_head(world, project, update.target)
        project.branches[name] = after
        return RefChange(update.full_ref, BLANK_SHA, after, False, False, [])
    commit = payloads.commit(
        world, project, user, sha=after, message=message, when=now,
        added=added, modified=modified, removed=removed,
    )  # fmt: skip
    # The default branch is protected, as GitLab protects it by default.
    return RefChange(update.full_ref, before, after, False, is_default, [commit])


def _apply_tag(world: World, project: Project, update: RefUpdate) -> RefChange:
    name = update.short_name
    if update.files or update.removed:
        raise ChangeError(f"{update.full_ref}: a tag carries no files")
    if update.delete:
        if name not in project.tags:
            raise ChangeError(f"no tag {name}", 404)
        if any(r.tag_name == name for r in project.releases):
            raise ChangeError(f"tag {name} has a release; delete the release first")
        before = project.tags.pop(name)
        return RefChange(update.full_ref, before, BLANK_SHA, True, False, [])
    if name in project.tags or any(r.tag_name == name for r in project.releases):
        raise ChangeError(f"tag {name} already exists", 409)
    target = _branch_head(world, project, update.target)
    project.tags[name] = target  # a lightweight tag: it names the commit itself
    return RefChange(update.full_ref, BLANK_SHA, target, True, False, [])


def _commit_files(
    world: World, project: Project, update: RefUpdate
) -> tuple[list[str], list[str], list[str]]:
    missing = [p for p in update.removed if p not in project.files]
    if missing:
        raise ChangeError(f"cannot remove missing files: {', '.join(missing)}")
    added = sorted(p for p in update.files if p not in project.files)
    modified = sorted(
        p
        for p, content in update.files.items()
        if p in project.files and project.files[p].content != content
    )
    removed = sorted(update.removed)
    for path in removed:
        del project.files[path]
    for path, content in update.files.items():
        project.files[path] = RepoFile(path, content)
    world.changed()
    return added, modified, removed


def _branch_head(world: World, project: Project, branch: str | None) -> str:
    name = branch or project.default_branch
    if name == project.default_branch:
        if not project.files:
            raise ChangeError("the repository is empty: push the default branch first")
        return entities.commit_sha(world, project)
    if name not in project.branches:
        raise ChangeError(f"no branch {name}", 404)
    return project.branches[name]


def _message(update: RefUpdate) -> str:
    count = len(update.files) + len(update.removed)
    return f"Update {count} file{'s' if count != 1 else ''}"
