"""JSON representations of the world's objects, shaped like GitLab's API entities
(doc/api/projects.md, groups.md, users.md, namespaces.md, releases/_index.md,
repository_files.md, repositories.md, personal_access_tokens.md)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote

from gitlab_sim.permissions import Oracle
from gitlab_sim.world import Group, Project, Release, RepoFile, Token, User, World

# Personal namespaces have ids of their own in GitLab; here they sit above every group id.
USER_NAMESPACE_BASE = 900_000_000

LICENSE_NAMES = {
    "mit": ("MIT License", None),
    "apache-2.0": ("Apache License 2.0", None),
    "cc-by-4.0": ("Creative Commons Attribution 4.0 International", "CC BY 4.0"),
    "gpl-3.0": ("GNU General Public License v3.0", "GNU GPLv3"),
    "bsd-3-clause": ('BSD 3-Clause "New" or "Revised" License', None),
    "lgpl-3.0": ("GNU Lesser General Public License v3.0", "GNU LGPLv3"),
}


def sha1(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode(), usedforsecurity=False).hexdigest()


def commit_sha(world: World, project: Project) -> str:
    """A stable 'head commit' id that changes whenever the repository's content does."""
    digest = sha1(str(project.id), *(f"{f.path}:{f.content}" for f in project.files.values()))
    return digest


def user_namespace_id(user: User) -> int:
    return USER_NAMESPACE_BASE + user.id


def user_basic(world: World, user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": user.state,
        "locked": False,
        "avatar_url": None,
        "web_url": f"{world.instance_url}/{user.username}",
    }


def user_entity(world: World, user: User, *, for_admin: bool, own: bool) -> dict[str, Any]:
    body = {
        **user_basic(world, user),
        "created_at": user.created_at,
        "bio": "",
        "bot": user.bot,
        "location": None,
        "public_email": None,
        "website_url": "",
        "organization": "",
        "job_title": "",
        "work_information": None,
    }
    if own or for_admin:
        body.update(
            email=f"{user.username}@example.com",
            external=user.external,
            private_profile=False,
            two_factor_enabled=False,
            can_create_group=not user.external,
            can_create_project=not user.external,
        )
    if for_admin:
        body.update(is_admin=user.is_admin, namespace_id=user_namespace_id(user), note=None)
    return body


def token_entity(token: Token, active: bool) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "revoked": token.revoked,
        "created_at": token.created_at,
        "description": None,
        "scopes": list(token.scopes),
        "user_id": token.user_id,
        "last_used_at": None,
        "active": active,
        "expires_at": token.expires_at,
    }


def group_namespace(world: World, group: Group) -> dict[str, Any]:
    full_path = world.group_full_path(group.id)
    return {
        "id": group.id,
        "name": group.name,
        "path": group.path,
        "kind": "group",
        "full_path": full_path,
        "parent_id": group.parent_id,
        "avatar_url": None,
        "web_url": f"{world.instance_url}/groups/{full_path}",
    }


def user_namespace(world: World, user: User) -> dict[str, Any]:
    return {
        "id": user_namespace_id(user),
        "name": user.name,
        "path": user.username,
        "kind": "user",
        "full_path": user.username,
        "parent_id": None,
        "avatar_url": None,
        "web_url": f"{world.instance_url}/{user.username}",
    }


def project_namespace(world: World, project: Project) -> dict[str, Any]:
    if project.namespace_kind == "group":
        return group_namespace(world, world.group_by_id[project.namespace_id])
    return user_namespace(world, world.user_by_id[project.namespace_id])


def shared_with_groups(world: World, project: Project) -> list[dict[str, Any]]:
    return [
        {
            "group_id": share.group_id,
            "group_name": world.group_by_id[share.group_id].name,
            "group_full_path": world.group_full_path(share.group_id),
            "group_access_level": share.group_access,
            "expires_at": share.expires_at,
        }
        for share in world.project_shares_by_project.get(project.id, [])
        if not world.expired(share.expires_at)
    ]


def project_basic(world: World, project: Project, oracle: Oracle) -> dict[str, Any]:
    """BasicProjectDetails: what ``simple=true`` and anonymous callers get in lists."""
    full_path = world.project_full_path(project)
    namespace = project_namespace(world, project)
    web_url = f"{world.instance_url}/{full_path}"
    body: dict[str, Any] = {
        "id": project.id,
        "description": project.description,
        "name": project.name,
        "name_with_namespace": f"{_namespace_name(world, project)} / {project.name}",
        "path": project.path,
        "path_with_namespace": full_path,
        "created_at": project.created_at,
        "default_branch": project.default_branch,
        "tag_list": list(project.topics),
        "topics": list(project.topics),
        "ssh_url_to_repo": f"git@{_host(world)}:{full_path}.git",
        "http_url_to_repo": f"{web_url}.git",
        "web_url": web_url,
        "avatar_url": None,
        "star_count": project.star_count,
        "last_activity_at": project.last_activity_at,
        "namespace": namespace,
    }
    if oracle.can_read_repository(project):
        readme = "README.md" if "README.md" in project.files else None
        body["readme_url"] = (
            f"{web_url}/-/blob/{project.default_branch}/{readme}" if readme else None
        )
        body["forks_count"] = 0
    else:
        body.pop("default_branch")
    return body


def project_entity(
    world: World,
    project: Project,
    oracle: Oracle,
    *,
    with_license: bool = False,
    with_permissions: bool = False,
) -> dict[str, Any]:
    """The full Project entity (with ``permissions`` for a signed-in caller)."""
    body = project_basic(world, project, oracle)
    web_url = body["web_url"]
    body.update(
        {
            "visibility": project.visibility,
            "archived": project.archived,
            "empty_repo": project.empty_repo,
            "updated_at": project.last_activity_at,
            "creator_id": project.creator_id,
            "issues_enabled": True,
            "merge_requests_enabled": True,
            "wiki_enabled": True,
            "jobs_enabled": True,
            "snippets_enabled": False,
            "lfs_enabled": True,
            "repository_access_level": project.repository_access_level,
            "issues_access_level": "enabled",
            "merge_requests_access_level": project.repository_access_level,
            "wiki_access_level": "enabled",
            "builds_access_level": project.repository_access_level,
            "open_issues_count": 0,
            "import_status": "none",
            "request_access_enabled": True,
            "shared_with_groups": shared_with_groups(world, project),
            "_links": {
                "self": f"{world.instance_url}/api/v4/projects/{project.id}",
                "issues": f"{world.instance_url}/api/v4/projects/{project.id}/issues",
                "members": f"{world.instance_url}/api/v4/projects/{project.id}/members",
            },
        }
    )
    if project.namespace_kind == "user":
        owner = world.user_by_id[project.namespace_id]
        body["owner"] = {"id": owner.id, "name": owner.name, "created_at": owner.created_at}
    if with_license:
        key = project.license_key
        if key:
            name, nickname = LICENSE_NAMES.get(key, (key.upper(), None))
            body["license_url"] = f"{web_url}/-/blob/{project.default_branch}/LICENSE"
            body["license"] = {
                "key": key,
                "name": name,
                "nickname": nickname,
                "html_url": f"https://choosealicense.com/licenses/{key}/",
                "source_url": None,
            }
        else:
            body["license_url"] = None
            body["license"] = None
    if with_permissions:
        body["permissions"] = _permissions(world, project, oracle)
    return body


def _permissions(world: World, project: Project, oracle: Oracle) -> dict[str, Any]:
    """Direct project membership and the highest inherited group membership, or null."""
    user = oracle.user
    project_access = group_access = None
    if user is not None:
        for membership in world.memberships_by_source.get(("project", project.id), []):
            if membership.user_id == user.id and not world.expired(membership.expires_at):
                project_access = {"access_level": membership.access_level, "notification_level": 3}
        if project.namespace_kind == "group":
            inherited = oracle.inherited_group_access(project.namespace_id)
            if inherited.level:
                group_access = {"access_level": inherited.level, "notification_level": 3}
    return {"project_access": project_access, "group_access": group_access}


def _namespace_name(world: World, project: Project) -> str:
    if project.namespace_kind == "group":
        return world.group_full_name(project.namespace_id)
    return world.user_by_id[project.namespace_id].name


def _host(world: World) -> str:
    return world.instance_url.split("://", 1)[-1]


def group_entity(world: World, group: Group) -> dict[str, Any]:
    full_path = world.group_full_path(group.id)
    return {
        "id": group.id,
        "web_url": f"{world.instance_url}/groups/{full_path}",
        "name": group.name,
        "path": group.path,
        "description": group.description,
        "visibility": group.visibility,
        "share_with_group_lock": False,
        "require_two_factor_authentication": False,
        "project_creation_level": "developer",
        "subgroup_creation_level": "maintainer",
        "lfs_enabled": True,
        "avatar_url": None,
        "request_access_enabled": True,
        "full_name": world.group_full_name(group.id),
        "full_path": full_path,
        "parent_id": group.parent_id,
        "created_at": group.created_at,
    }


def group_shares_of(world: World, group: Group) -> list[dict[str, Any]]:
    return [
        {
            "group_id": share.shared_with_group_id,
            "group_name": world.group_by_id[share.shared_with_group_id].name,
            "group_full_path": world.group_full_path(share.shared_with_group_id),
            "group_access_level": share.group_access,
            "expires_at": share.expires_at,
        }
        for share in world.group_shares_by_shared.get(group.id, [])
        if not world.expired(share.expires_at)
    ]


def public_group(world: World, group: Group) -> dict[str, Any]:
    """PublicGroupDetails, as ``/projects/:id/groups`` returns them."""
    full_path = world.group_full_path(group.id)
    return {
        "id": group.id,
        "name": group.name,
        "avatar_url": None,
        "web_url": f"{world.instance_url}/groups/{full_path}",
        "full_name": world.group_full_name(group.id),
        "full_path": full_path,
    }


def tree_entry(project: Project, path: str, kind: str) -> dict[str, Any]:
    name = path.rsplit("/", 1)[-1]
    if kind == "blob":
        content = project.files[path].content
        return {
            "id": sha1("blob", content),
            "name": name,
            "type": "blob",
            "path": path,
            "mode": "100644",
        }
    return {
        "id": sha1("tree", str(project.id), path),
        "name": name,
        "type": "tree",
        "path": path,
        "mode": "040000",
    }


def file_entity(world: World, project: Project, file: RepoFile, ref: str) -> dict[str, Any]:
    raw = file.data
    head = commit_sha(world, project)
    return {
        "file_name": file.path.rsplit("/", 1)[-1],
        "file_path": file.path,
        "size": len(raw),
        "encoding": "base64",
        "content": base64.b64encode(raw).decode(),
        "content_sha256": hashlib.sha256(raw).hexdigest(),
        "ref": ref,
        "blob_id": sha1("blob", file.content),
        "commit_id": head,
        "last_commit_id": head,
        "execute_filemode": False,
    }


def file_headers(entity: dict[str, Any]) -> dict[str, str]:
    """The X-Gitlab-* headers GET, HEAD and raw of a file carry."""
    return {
        "X-Gitlab-Blob-Id": entity["blob_id"],
        "X-Gitlab-Commit-Id": entity["commit_id"],
        "X-Gitlab-Content-Sha256": entity["content_sha256"],
        "X-Gitlab-Encoding": "base64",
        "X-Gitlab-File-Name": quote(entity["file_name"]),
        "X-Gitlab-File-Path": quote(entity["file_path"]),
        "X-Gitlab-Last-Commit-Id": entity["last_commit_id"],
        "X-Gitlab-Ref": quote(entity["ref"]),
        "X-Gitlab-Size": str(entity["size"]),
        "X-Gitlab-Execute-Filemode": "false",
    }


def release_entity(world: World, project: Project, release: Release) -> dict[str, Any]:
    full_path = world.project_full_path(project)
    web = f"{world.instance_url}/{full_path}"
    author_user = world.user_by_id.get(project.creator_id or 1) or (
        world.users[0] if world.users else None
    )
    sources = [
        {
            "format": fmt,
            "url": f"{web}/-/archive/{release.tag_name}/{project.path}-{release.tag_name}.{fmt}",
        }
        for fmt in ("zip", "tar.gz", "tar.bz2", "tar")
    ]
    head = commit_sha(world, project)
    return {
        "tag_name": release.tag_name,
        "description": release.description,
        "name": release.name,
        "created_at": release.created_at,
        "released_at": release.released_at,
        "upcoming_release": False,
        "author": user_basic(world, author_user) if author_user else None,
        "commit": {
            "id": head,
            "short_id": head[:8],
            "title": f"Release {release.tag_name}",
            "created_at": release.created_at,
            "message": f"Release {release.tag_name}",
        },
        "commit_path": f"/{full_path}/-/commit/{head}",
        "tag_path": f"/{full_path}/-/tags/{release.tag_name}",
        "assets": {
            "count": len(sources) + len(release.links),
            "sources": sources,
            "links": [
                {
                    "id": link.id,
                    "name": link.name,
                    "url": link.url,
                    "direct_asset_url": link.url,
                    "link_type": link.link_type,
                }
                for link in release.links
            ],
        },
        "_links": {"self": f"{web}/-/releases/{release.tag_name}"},
    }
