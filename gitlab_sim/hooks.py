"""Registered hooks and who receives what: GitLab's system hooks, group webhooks and project
webhooks, each with the event toggles GitLab gives them, and the routing rules GitLab
applies to an event.

The rules, from GitLab's code and documentation (gitlabhq):

- system hooks receive the "basic" events (project, user, group and member events) always,
  and push, tag push and repository update events only when toggled on
  (``app/models/hooks/system_hook.rb``: ``push_events`` off, ``repository_update_events``
  on by default; ``doc/administration/system_hooks.md``);
- a project's events go to its project webhooks and to the group webhooks of its group and
  every ancestor group (``ee/app/models/ee/group.rb`` ``execute_hooks``:
  ``GroupHook.where(group_id: self_and_ancestors)``);
- a group's events (member, subgroup) go to the group webhooks of that group and its
  ancestors; subgroup events start from the parent (``execute_subgroup_hooks``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from gitlab_sim.world import World

HookKind = Literal["system", "group", "project"]

# The toggles each kind of hook has, with GitLab's defaults (web_hooks table defaults;
# SystemHook overrides push_events and repository_update_events).
TOGGLES: dict[str, dict[str, bool]] = {
    "system": {
        "push_events": False,
        "tag_push_events": False,
        "merge_requests_events": False,
        "repository_update_events": True,
    },
    "project": {
        "push_events": True,
        "tag_push_events": False,
        "releases_events": False,
    },
    "group": {
        "push_events": True,
        "tag_push_events": False,
        "releases_events": False,
        "member_events": False,
        "project_events": False,
        "subgroup_events": False,
    },
}


class HookError(ValueError):
    """A hook registration GitLab would refuse; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Hook:
    id: int
    kind: HookKind
    url: str
    token: str | None = None
    group_id: int | None = None
    project_id: int | None = None
    events: dict[str, bool] = field(default_factory=dict)

    def wants(self, toggle: str | None) -> bool:
        """None is an event the hook cannot opt out of (a system hook's basic events)."""
        return toggle is None or bool(self.events.get(toggle, False))

    def to_json(self) -> dict[str, Any]:
        # Like GitLab's hooks API, the secret token is never echoed back.
        return {
            "id": self.id,
            "kind": self.kind,
            "url": self.url,
            "token_set": bool(self.token),
            "group_id": self.group_id,
            "project_id": self.project_id,
            **self.events,
        }


@dataclass(frozen=True)
class Dispatch:
    """One payload for one audience. GitLab builds a different payload for system hooks and
    for webhooks of the same event, so an event is a list of these.

    ``trigger`` is GitLab's hook scope (``push_hooks``, ``member_hooks``...), which names the
    ``X-Gitlab-Event`` header of webhooks; system hooks always say ``System Hook``.
    """

    trigger: str
    toggle: str | None
    payload: dict[str, Any]
    system: bool = False
    project_id: int | None = None  # project webhooks of this project, and group webhooks above
    group_id: int | None = None  # group webhooks of this group and its ancestors

    @property
    def header(self) -> str:
        if self.system:
            return "System Hook"
        # WebHookService.hook_to_event: hook_name.singularize.titleize
        return " ".join(word.capitalize() for word in self.trigger.removesuffix("s").split("_"))


class HookRegistry:
    """The hooks registered on the instance. ``lock`` also serialises changes to the world
    (gitlab_sim.changes), so that hook routing sees one consistent world."""

    def __init__(self, push_event_hooks_limit: int = 3) -> None:
        self.hooks: list[Hook] = []
        self.lock = threading.RLock()
        # The application setting push_event_hooks_limit (doc/api/settings.md), 3 by default.
        self.push_event_hooks_limit = push_event_hooks_limit
        # Bookkeeping for gitlab_sim.changes: changes made so far, and the highest id
        # handed out per kind (GitLab never reuses the id of a deleted object).
        self.change_counter = 0
        self.id_floor: dict[str, int] = {}
        self._next_id = 1

    def add(
        self,
        kind: HookKind,
        url: str,
        *,
        token: str | None = None,
        group_id: int | None = None,
        project_id: int | None = None,
        events: dict[str, bool] | None = None,
        world: World | None = None,
    ) -> Hook:
        """Register a hook; ``events`` are its toggles (GitLab's defaults for the others).
        With ``world``, the group or project must exist in it."""
        toggles = events or {}
        if kind not in TOGGLES:
            raise HookError(f"kind must be one of {', '.join(TOGGLES)}")
        if not url.startswith(("http://", "https://")):
            raise HookError("url must be an http(s) URL")
        unknown = set(toggles) - set(TOGGLES[kind])
        if unknown:
            raise HookError(f"{kind} hooks have no {', '.join(sorted(unknown))}")
        if kind == "group" and group_id is None:
            raise HookError("a group hook needs group_id")
        if kind == "project" and project_id is None:
            raise HookError("a project hook needs project_id")
        if world is not None:
            if kind == "group" and group_id not in world.group_by_id:
                raise HookError(f"no group {group_id}", 404)
            if kind == "project" and project_id not in world.project_by_id:
                raise HookError(f"no project {project_id}", 404)
        with self.lock:
            hook = Hook(
                id=self._next_id,
                kind=kind,
                url=url,
                token=token or None,
                group_id=group_id if kind == "group" else None,
                project_id=project_id if kind == "project" else None,
                events={**TOGGLES[kind], **{k: bool(v) for k, v in toggles.items()}},
            )
            self._next_id += 1
            self.hooks.append(hook)
            return hook

    def add_system_hook(self, url: str, *, token: str | None = None, **events: bool) -> Hook:
        return self.add("system", url, token=token, events=events)

    def add_group_hook(
        self, group_id: int, url: str, *, token: str | None = None, **events: bool
    ) -> Hook:
        return self.add("group", url, token=token, group_id=group_id, events=events)

    def add_project_hook(
        self, project_id: int, url: str, *, token: str | None = None, **events: bool
    ) -> Hook:
        return self.add("project", url, token=token, project_id=project_id, events=events)

    def get(self, hook_id: int) -> Hook | None:
        return next((hook for hook in self.hooks if hook.id == hook_id), None)

    def remove(self, hook_id: int) -> bool:
        with self.lock:
            before = len(self.hooks)
            self.hooks = [hook for hook in self.hooks if hook.id != hook_id]
            return len(self.hooks) != before

    def forget(self, *, group_ids: Iterable[int] = (), project_ids: Iterable[int] = ()) -> None:
        """Drop the webhooks of deleted groups and projects, as GitLab's foreign keys do."""
        groups, projects = set(group_ids), set(project_ids)
        with self.lock:
            self.hooks = [
                hook
                for hook in self.hooks
                if hook.group_id not in groups and hook.project_id not in projects
            ]

    def recipients(self, world: World, dispatch: Dispatch) -> list[Hook]:
        """The hooks that receive ``dispatch`` in the world as it is now."""
        if dispatch.system:
            return [h for h in self.hooks if h.kind == "system" and h.wants(dispatch.toggle)]
        group_ids: set[int] = set()
        chosen: list[Hook] = []
        if dispatch.project_id is not None:
            chosen += [
                h
                for h in self.hooks
                if h.kind == "project"
                and h.project_id == dispatch.project_id
                and h.wants(dispatch.toggle)
            ]
            project = world.project_by_id.get(dispatch.project_id)
            if project is not None:
                group_ids.update(world.project_ancestor_group_ids(project))
        if dispatch.group_id is not None and dispatch.group_id in world.group_by_id:
            group_ids.update(world.ancestor_ids(dispatch.group_id))
        chosen += [
            h
            for h in self.hooks
            if h.kind == "group" and h.group_id in group_ids and h.wants(dispatch.toggle)
        ]
        return chosen
