"""GitLab events into tasks. An event is a trigger, not state: it only says which project,
group or user to look at again. Pure functions, so every event shape is testable alone.

| event | tasks |
|---|---|
| project_create/update/rename/transfer, repository_update | index_project |
| project_destroy | delete_project (which re-reads too: GitLab's 404 is the proof) |
| push on the default branch | index_project |
| release | index_project |
| group_rename, group_destroy, subgroup_destroy | refresh_group |
| user_{add_to,remove_from,update_for}_{team,group}, user_destroy, user_rename | forget_user |
| user_rename | refresh_user too: the personal projects' paths changed |
| anything else (tag pushes, other branches, issues, ...) | none: accepted and counted |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from indexer.errors import Invalid

INDEX_PROJECT = "labstac.workers.index.index_project"
DELETE_PROJECT = "labstac.workers.index.delete_project"
REFRESH_GROUP = "labstac.workers.index.refresh_group"
REFRESH_USER = "labstac.workers.index.refresh_user"
FORGET_USER = "labstac.workers.access.forget_user"

PROJECT_EVENTS = frozenset(
    {"project_create", "project_update", "project_rename", "project_transfer",
     "repository_update"}
)  # fmt: skip
GROUP_EVENTS = frozenset({"group_rename", "group_destroy", "subgroup_destroy"})
MEMBER_EVENTS = frozenset(
    {"user_add_to_team", "user_remove_from_team", "user_update_for_team",
     "user_add_to_group", "user_remove_from_group", "user_update_for_group",
     "user_destroy", "user_rename"}
)  # fmt: skip


# GitLab's ids are positive 64-bit integers, written in ASCII digits ("²".isdigit() is true).
_ID = re.compile(r"^[0-9]{1,18}$")
# The events GitLab documents (system hooks and webhooks): the only names metrics carry.
KNOWN_EVENTS = frozenset(
    {*PROJECT_EVENTS, *GROUP_EVENTS, *MEMBER_EVENTS, "project_destroy", "push", "tag_push",
     "release", "group_create", "user_create", "user_failed_login", "key_create",
     "key_destroy", "repository_update", "merge_request", "issue", "note", "pipeline",
     "build", "wiki_page", "deployment", "feature_flag", "emoji", "access_token",
     "subgroup_create", "member", "project", "subgroup", "vulnerability"}
)  # fmt: skip


@dataclass(frozen=True)
class PlannedTask:
    name: str
    args: tuple[int, ...]


@dataclass(frozen=True)
class EventPlan:
    event: str
    tasks: tuple[PlannedTask, ...]


def event_name(payload: dict[str, Any]) -> str:
    name = payload.get("event_name") or payload.get("object_kind")
    if not isinstance(name, str) or not name:
        raise Invalid("the payload has neither event_name nor object_kind")
    return name


def _int(payload: dict[str, Any], *path: str) -> int:
    value: Any = payload
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise Invalid(f"a {event_name(payload)} event needs {'.'.join(path)}")
        value = value[key]
    if isinstance(value, bool) or not isinstance(value, int | str) or not _ID.match(str(value)):
        raise Invalid(f"{'.'.join(path)} must be an integer id")
    return int(value)


ROUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    **dict.fromkeys(PROJECT_EVENTS, (INDEX_PROJECT, ("project_id",))),
    "project_destroy": (DELETE_PROJECT, ("project_id",)),
    "push": (INDEX_PROJECT, ("project_id",)),
    "release": (INDEX_PROJECT, ("project", "id")),
    **dict.fromkeys(GROUP_EVENTS, (REFRESH_GROUP, ("group_id",))),
    **dict.fromkeys(MEMBER_EVENTS, (FORGET_USER, ("user_id",))),
}


def _on_default_branch(payload: dict[str, Any]) -> bool:
    project = payload.get("project")
    default_branch = project.get("default_branch") if isinstance(project, dict) else None
    if not isinstance(payload.get("ref"), str) or not default_branch:
        raise Invalid("a push event needs ref and project.default_branch")
    return bool(payload["ref"] == f"refs/heads/{default_branch}")


def plan_event(payload: dict[str, Any]) -> EventPlan:
    """The tasks one delivery asks for; raises ``Invalid`` when a known event lacks a field
    it needs."""
    name = event_name(payload)
    route = ROUTES.get(name)
    if route is None or (name == "push" and not _on_default_branch(payload)):
        return EventPlan(name, ())
    task, path = route
    planned = [PlannedTask(task, (_int(payload, *path),))]
    if name == "user_rename":  # the personal namespace's projects have new paths
        planned.append(PlannedTask(REFRESH_USER, planned[0].args))
    return EventPlan(name, tuple(planned))
