"""The JSON bodies GitLab sends to hooks, one builder per documented shape, filled from the
world. The shapes (field names, nesting, types) are copied from the examples of
``doc/administration/system_hooks.md`` and ``doc/user/project/integrations/webhook_events.md``
(gitlabhq); ``tests/fixtures/gitlab_hooks/`` holds those examples, and the tests compare
every payload built here against them.

Where GitLab's own code sends more than its documentation shows (system hooks get the full
push payload, member events carry ``expires_at``), the documentation wins: a receiver
written against these payloads then works against a real GitLab too.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from gitlab_sim import entities
from gitlab_sim.world import (
    OWNER,
    VISIBILITY_LEVEL,
    Group,
    Membership,
    Project,
    Release,
    User,
    World,
)

BLANK_SHA = "0" * 40

# Gitlab::Access.human_access names, as member payloads show them.
ACCESS_NAMES = {
    5: "Minimal Access",
    10: "Guest",
    15: "Planner",
    20: "Reporter",
    30: "Developer",
    40: "Maintainer",
    50: "Owner",
}


# ------------------------------------------------------------------ values


def parse_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def xmlschema(value: str | datetime) -> str:
    """Ruby's Time#xmlschema, which every system hook timestamp uses: 2012-07-21T07:30:54Z."""
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_words(value: str | datetime) -> str:
    """The release payload's format: 2020-11-02 12:55:12 UTC."""
    return parse_time(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def commit_time(value: str | datetime) -> str:
    """A commit timestamp with its offset: 2011-12-12T14:27:31+00:00."""
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def expiry(expires_at: str | None) -> str | None:
    """A membership's expiry date as GitLab's ``expires_at&.xmlschema`` renders it."""
    return None if expires_at is None else f"{expires_at}T00:00:00Z"


def email(user: User) -> str:
    # The simulator's users have one address, which is also their public one (GitLab shows
    # "[REDACTED]" for users without a public email; the simulator has none of those).
    return f"{user.username}@example.com"


def avatar(user: User) -> str:
    # GitLab's default avatar for a user without one is the Gravatar of their email.
    digest = hashlib.md5(email(user).encode(), usedforsecurity=False).hexdigest()
    return f"https://www.gravatar.com/avatar/{digest}?s=80&d=identicon"


def access_name(level: int) -> str:
    return ACCESS_NAMES.get(level, str(level))


def namespace_id(project: Project) -> int:
    if project.namespace_kind == "group":
        return project.namespace_id
    return entities.USER_NAMESPACE_BASE + project.namespace_id


def _web_url(world: World, project: Project) -> str:
    return f"{world.instance_url}/{world.project_full_path(project)}"


def _ssh_url(world: World, project: Project) -> str:
    host = world.instance_url.split("://", 1)[-1]
    return f"git@{host}:{world.project_full_path(project)}.git"


# --------------------------------------------------- project, user, group


def owners(world: World, project: Project) -> list[dict[str, str]]:
    """ProjectBuilder#owners_data: the direct Owner members of the project's group, or the
    owner of a personal project."""
    if project.namespace_kind == "user":
        user = world.user_by_id[project.namespace_id]
        return [{"name": user.name, "email": email(user)}]
    members = world.memberships_by_source.get(("group", project.namespace_id), [])
    return [
        {"name": world.user_by_id[m.user_id].name, "email": email(world.user_by_id[m.user_id])}
        for m in sorted(members, key=lambda m: m.user_id)
        if m.access_level == OWNER
    ]


def _deprecated_owner(world: World, project: Project) -> tuple[str, str]:
    # Project#deprecated_owner is the group for a group's project (which has no email: "")
    # and the user for a personal one.
    if project.namespace_kind == "group":
        return world.group_by_id[project.namespace_id].name, ""
    user = world.user_by_id[project.namespace_id]
    return user.name, email(user)


def system_project(
    world: World,
    project: Project,
    event: str,
    updated_at: datetime,
    old_path_with_namespace: str | None = None,
) -> dict[str, Any]:
    """system_hooks.md "Project created/destroyed/renamed/transferred/updated"."""
    owner_name, owner_email = _deprecated_owner(world, project)
    body: dict[str, Any] = {
        "created_at": xmlschema(project.created_at),
        "updated_at": xmlschema(updated_at),
        "event_name": f"project_{event}",
        "name": project.name,
        "owner_email": owner_email,
        "owner_name": owner_name,
        "owners": owners(world, project),
        "path": project.path,
        "path_with_namespace": world.project_full_path(project),
        "project_id": project.id,
        "project_namespace_id": namespace_id(project),
        "project_visibility": project.visibility,
    }
    if event in ("rename", "transfer"):
        body["old_path_with_namespace"] = old_path_with_namespace
    return body


def group_project(
    world: World, project: Project, event: str, updated_at: datetime
) -> dict[str, Any]:
    """webhook_events.md "Project events" (group webhooks only)."""
    return {
        "event_name": f"project_{event}",
        "created_at": xmlschema(project.created_at),
        "updated_at": xmlschema(updated_at),
        "name": project.name,
        "path": project.path,
        "path_with_namespace": world.project_full_path(project),
        "project_id": project.id,
        "project_namespace_id": namespace_id(project),
        "owners": owners(world, project),
        "project_visibility": project.visibility,
    }


def system_user(
    user: User, event: str, updated_at: datetime, old_username: str | None = None
) -> dict[str, Any]:
    """system_hooks.md "User created/removed/renamed"."""
    if event == "rename":
        return {
            "event_name": "user_rename",
            "created_at": xmlschema(user.created_at),
            "updated_at": xmlschema(updated_at),
            "name": user.name,
            "email": email(user),
            "user_id": user.id,
            "username": user.username,
            "old_username": old_username,
        }
    return {
        "created_at": xmlschema(user.created_at),
        "updated_at": xmlschema(updated_at),
        "email": email(user),
        "event_name": f"user_{event}",
        "name": user.name,
        "username": user.username,
        "user_id": user.id,
    }


def system_group(
    world: World,
    group: Group,
    event: str,
    updated_at: datetime,
    old_path: str | None = None,
    old_full_path: str | None = None,
) -> dict[str, Any]:
    """system_hooks.md "Group created/removed/renamed"."""
    if event == "rename":
        return {
            "event_name": "group_rename",
            "created_at": xmlschema(group.created_at),
            "updated_at": xmlschema(updated_at),
            "name": group.name,
            "path": group.path,
            "full_path": world.group_full_path(group.id),
            "group_id": group.id,
            "old_path": old_path,
            "old_full_path": old_full_path,
        }
    return {
        "created_at": xmlschema(group.created_at),
        "updated_at": xmlschema(updated_at),
        "event_name": f"group_{event}",
        "name": group.name,
        "path": group.path,
        "group_id": group.id,
    }


def subgroup(world: World, group: Group, event: str, updated_at: datetime) -> dict[str, Any]:
    """webhook_events.md "Subgroup events"; sent to the parent's webhooks."""
    assert group.parent_id is not None
    parent = world.group_by_id[group.parent_id]
    return {
        "created_at": xmlschema(group.created_at),
        "updated_at": xmlschema(updated_at),
        "event_name": f"subgroup_{event}",
        "name": group.name,
        "path": group.path,
        "full_path": world.group_full_path(group.id),
        "group_id": group.id,
        "parent_group_id": parent.id,
        "parent_name": parent.name,
        "parent_path": parent.path,
        "parent_full_path": world.group_full_path(parent.id),
    }


# ---------------------------------------------------------------- members

_MEMBER_EVENTS = {
    ("project", "create"): "user_add_to_team",
    ("project", "update"): "user_update_for_team",
    ("project", "destroy"): "user_remove_from_team",
    ("group", "create"): "user_add_to_group",
    ("group", "update"): "user_update_for_group",
    ("group", "destroy"): "user_remove_from_group",
}


def system_member(
    world: World, membership: Membership, event: str, updated_at: datetime
) -> dict[str, Any]:
    """system_hooks.md "New/Removed/Updated Team Member" and "... Group Member"."""
    user = world.user_by_id[membership.user_id]
    name = _MEMBER_EVENTS[(membership.source_type, event)]
    head = {
        "created_at": xmlschema(membership.created_at),
        "updated_at": xmlschema(updated_at),
        "event_name": name,
    }
    if membership.source_type == "project":
        project = world.project_by_id[membership.source_id]
        return {
            **head,
            "access_level": access_name(membership.access_level),
            "project_id": project.id,
            "project_name": project.name,
            "project_path": project.path,
            "project_path_with_namespace": world.project_full_path(project),
            "user_email": email(user),
            "user_name": user.name,
            "user_username": user.username,
            "user_id": user.id,
            "project_visibility": project.visibility,
        }
    group = world.group_by_id[membership.source_id]
    return {
        **head,
        "group_access": access_name(membership.access_level),
        "group_id": group.id,
        "group_name": group.name,
        "group_path": group.path,
        "user_email": email(user),
        "user_name": user.name,
        "user_username": user.username,
        "user_id": user.id,
    }


def member_hook(
    world: World, membership: Membership, event: str, updated_at: datetime
) -> dict[str, Any]:
    """webhook_events.md "Group member events" (group webhooks only)."""
    user = world.user_by_id[membership.user_id]
    group = world.group_by_id[membership.source_id]
    return {
        "created_at": xmlschema(membership.created_at),
        "updated_at": xmlschema(updated_at),
        "group_name": group.name,
        "group_path": group.path,
        "group_id": group.id,
        "user_username": user.username,
        "user_name": user.name,
        "user_email": email(user),
        "user_id": user.id,
        "group_access": access_name(membership.access_level),
        "group_plan": None,
        "expires_at": expiry(membership.expires_at),
        "event_name": _MEMBER_EVENTS[("group", event)],
    }


# ------------------------------------------------------- pushes and tags


def hook_project(
    world: World, project: Project, *, with_id: bool, ci_config_path: bool = False
) -> dict[str, Any]:
    """The ``project`` object of push, tag, repository update and release payloads
    (Project#hook_attrs); which of ``id`` and ``ci_config_path`` it has depends on the page."""
    web, ssh = _web_url(world, project), _ssh_url(world, project)
    body: dict[str, Any] = {"id": project.id} if with_id else {}
    if project.namespace_kind == "group":
        namespace = world.group_by_id[project.namespace_id].name
    else:
        namespace = world.user_by_id[project.namespace_id].name
    body.update(
        {
            "name": project.name,
            "description": project.description or "",
            "web_url": web,
            "avatar_url": None,
            "git_ssh_url": ssh,
            "git_http_url": f"{web}.git",
            "namespace": namespace,
            "visibility_level": VISIBILITY_LEVEL[project.visibility],
            "path_with_namespace": world.project_full_path(project),
            "default_branch": project.default_branch,
        }
    )
    if ci_config_path:
        body["ci_config_path"] = None
    body.update({"homepage": web, "url": ssh, "ssh_url": ssh, "http_url": f"{web}.git"})
    return body


def hook_repository(world: World, project: Project) -> dict[str, Any]:
    web, ssh = _web_url(world, project), _ssh_url(world, project)
    return {
        "name": project.name,
        "url": ssh,
        "description": project.description or "",
        "homepage": web,
        "git_http_url": f"{web}.git",
        "git_ssh_url": ssh,
        "visibility_level": VISIBILITY_LEVEL[project.visibility],
    }


def push(
    world: World,
    project: Project,
    user: User,
    *,
    ref: str,
    before: str,
    after: str,
    commits: list[dict[str, Any]],
    protected: bool,
    system: bool,
) -> dict[str, Any]:
    """webhook_events.md "Push events" (webhooks) or system_hooks.md "Push events".

    ``commits`` are full commit entries (``commit()``); system hooks show fewer fields."""
    checkout = None if after == BLANK_SHA else after
    if system:
        return {
            "event_name": "push",
            "before": before,
            "after": after,
            "ref": ref,
            "checkout_sha": checkout,
            "user_id": user.id,
            "user_name": user.name,
            "user_email": email(user),
            "user_avatar": avatar(user),
            "project_id": project.id,
            "project": hook_project(world, project, with_id=False),
            "repository": hook_repository(world, project),
            "commits": [
                {key: c[key] for key in ("id", "message", "timestamp", "url", "author")}
                for c in commits
            ],
            "total_commits_count": len(commits),
        }
    return {
        "object_kind": "push",
        "event_name": "push",
        "before": before,
        "after": after,
        "ref": ref,
        "ref_protected": protected,
        "checkout_sha": checkout,
        "user_id": user.id,
        "user_name": user.name,
        "user_username": user.username,
        "user_email": email(user),
        "user_avatar": avatar(user),
        "project_id": project.id,
        "project": hook_project(world, project, with_id=True),
        "repository": hook_repository(world, project),
        "commits": commits,
        "total_commits_count": len(commits),
    }


def tag_push(
    world: World,
    project: Project,
    user: User,
    *,
    ref: str,
    before: str,
    after: str,
    system: bool,
) -> dict[str, Any]:
    """webhook_events.md "Tag events" or system_hooks.md "Tag events". Tags here are
    lightweight, so ``after`` is the tagged commit and equals ``checkout_sha``."""
    body: dict[str, Any] = {} if system else {"object_kind": "tag_push"}
    body.update(
        {
            "event_name": "tag_push",
            "before": before,
            "after": after,
            "ref": ref,
        }
    )
    if not system:
        body["ref_protected"] = False  # no protected tags in the simulator
    body.update(
        {
            "checkout_sha": None if after == BLANK_SHA else after,
            "user_id": user.id,
            "user_name": user.name,
            "user_avatar": avatar(user),
            "project_id": project.id,
            "project": hook_project(world, project, with_id=not system),
            "repository": hook_repository(world, project),
            "commits": [],
            "total_commits_count": 0,
        }
    )
    return body


def repository_update(
    world: World, project: Project, user: User, changes: list[dict[str, str]]
) -> dict[str, Any]:
    """system_hooks.md "Repository Update events": once per push, whatever it holds."""
    return {
        "event_name": "repository_update",
        "user_id": user.id,
        "user_name": user.name,
        "user_email": email(user),
        "user_avatar": avatar(user),
        "project_id": project.id,
        "project": hook_project(world, project, with_id=False),
        "changes": changes,
        "refs": [change["ref"] for change in changes],
    }


def commit(
    world: World,
    project: Project,
    user: User,
    *,
    sha: str,
    message: str,
    when: datetime,
    added: list[str],
    modified: list[str],
    removed: list[str],
) -> dict[str, Any]:
    """One entry of a push payload's ``commits``."""
    return {
        "id": sha,
        "message": message,
        "title": message.split("\n", 1)[0],
        "timestamp": commit_time(when),
        "url": f"{_web_url(world, project)}/-/commit/{sha}",
        "author": {"name": user.name, "email": email(user)},
        "added": added,
        "modified": modified,
        "removed": removed,
    }


# ---------------------------------------------------------------- releases


def release(
    world: World,
    project: Project,
    release: Release,
    *,
    action: str,
    sha: str,
    author: User,
) -> dict[str, Any]:
    """webhook_events.md "Release events"."""
    web = _web_url(world, project)
    tag = release.tag_name
    sources = [
        {"format": fmt, "url": f"{web}/-/archive/{tag}/{project.path}-{tag}.{fmt}"}
        for fmt in ("zip", "tar.gz", "tar.bz2", "tar")
    ]
    message = f"Release {tag}"
    return {
        "id": release.id,
        "created_at": utc_words(release.created_at),
        "description": release.description,
        "name": release.name,
        "released_at": utc_words(release.released_at),
        "tag": tag,
        "object_kind": "release",
        "project": hook_project(world, project, with_id=True, ci_config_path=True),
        "url": f"{web}/-/releases/{tag}",
        "action": action,
        "assets": {
            "count": len(sources) + len(release.links),
            "links": [
                {
                    "id": link.id,
                    "external": True,
                    "link_type": link.link_type,
                    "name": link.name,
                    "url": link.url,
                }
                for link in release.links
            ],
            "sources": sources,
        },
        "commit": {
            "id": sha,
            "message": message,
            "title": message,
            "timestamp": commit_time(release.created_at),
            "url": f"{web}/-/commit/{sha}",
            "author": {"name": author.name, "email": email(author)},
        },
    }
