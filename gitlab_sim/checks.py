"""What GitLab refuses when the world changes: invalid or taken paths, a visibility above the
parent's (or below what a group holds), roles a source cannot have, past expiry dates. The
simulator's changes (gitlab_sim.changes) act as an administrator, so these are the model
validations, not permission checks.
"""

from __future__ import annotations

import re
from datetime import date

from gitlab_sim.world import ACCESS_LEVELS, MINIMAL_ACCESS, VISIBILITY_LEVEL, Group, World

PATH_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
REPOSITORY_LEVELS = ("enabled", "private", "disabled")


class ChangeError(ValueError):
    """A change GitLab would refuse; ``status`` is the HTTP status the control API answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def level(visibility: str) -> int:
    return VISIBILITY_LEVEL[visibility]


def check_path(path: str, what: str) -> None:
    """GitLab's path rule, simplified: letters, digits, ``_``, ``-``, ``.``; no ``.git``."""
    if not PATH_RE.match(path) or path.lower().endswith((".git", ".atom")):
        raise ChangeError(f"{what} {path!r} is not a valid GitLab path")


def check_visibility(visibility: str) -> None:
    if visibility not in VISIBILITY_LEVEL:
        raise ChangeError("visibility must be private, internal or public")


def check_repository_level(access: str) -> None:
    if access not in REPOSITORY_LEVELS:
        raise ChangeError("repository_access_level must be enabled, private or disabled")


def not_above(visibility: str, ceiling: str, what: str) -> None:
    """A group is never more visible than its parent, a project than its group."""
    if level(visibility) > level(ceiling):
        raise ChangeError(f"visibility {visibility} is not allowed: {what} is {ceiling}")


def not_below_children(world: World, group: Group, visibility: str) -> None:
    """Nor less visible than what it holds (``visibility_level_allowed_by_projects`` and
    ``..._by_sub_groups``)."""
    above = [
        world.group_full_path(child.id)
        for child in world.children.get(group.id, [])
        if level(child.visibility) > level(visibility)
    ] + [
        world.project_full_path(project)
        for project in world.projects_by_group.get(group.id, [])
        if level(project.visibility) > level(visibility)
    ]
    if above:
        raise ChangeError(f"visibility {visibility} is below {', '.join(sorted(above))}")


def check_level(world: World, source_type: str, source_id: int, access_level: int) -> None:
    if access_level not in ACCESS_LEVELS:
        raise ChangeError(f"access_level must be one of {ACCESS_LEVELS}")
    if access_level == MINIMAL_ACCESS and (
        source_type != "group" or world.group_by_id[source_id].parent_id is not None
    ):
        raise ChangeError("Minimal Access is for top-level group members only")


def check_share_level(access_level: int) -> None:
    if access_level not in ACCESS_LEVELS:
        raise ChangeError(f"group_access must be one of {ACCESS_LEVELS}")


def check_expiry(world: World, expires_at: str | None) -> None:
    """An ISO date, not in the past (today is allowed, and expires at once)."""
    if expires_at is None:
        return
    try:
        when = date.fromisoformat(expires_at)
    except (TypeError, ValueError):
        raise ChangeError("expires_at must be a date, YYYY-MM-DD") from None
    if when < world.today():
        raise ChangeError("expires_at cannot be a date in the past")


def namespace_free(world: World, path: str, parent_id: int | None) -> None:
    """Groups, users' namespaces and projects share one table of routes."""
    if parent_id is None:
        if path.lower() in world.user_by_username or path.lower() in world.group_by_full_path:
            raise ChangeError(f"{path} has already been taken", 409)
        return
    full = f"{world.group_full_path(parent_id)}/{path}".lower()
    if full in world.group_by_full_path or full in world.project_by_full_path:
        raise ChangeError(f"{full} has already been taken", 409)


def project_path_free(world: World, kind: str, namespace_id: int, path: str) -> None:
    if kind == "group":
        full = f"{world.group_full_path(namespace_id)}/{path}".lower()
        taken = full in world.project_by_full_path or full in world.group_by_full_path
    else:
        full = f"{world.user_by_id[namespace_id].username}/{path}".lower()
        taken = full in world.project_by_full_path
    if taken:
        raise ChangeError(f"{full} has already been taken", 409)
