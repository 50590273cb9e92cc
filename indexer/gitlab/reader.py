"""Reading GitLab's current state with python-gitlab and labstac's own (admin) token: the
facts the index is built from. Workers and admin commands use it; events only say *what* to
re-read, never *what is true*.

python-gitlab errors are translated here: a project or group that is gone is ``NotFound``;
everything else that stops a read is ``UpstreamUnavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from urllib.parse import quote, urlsplit

import gitlab
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from indexer.errors import NotFound, SettingsInvalid, UpstreamUnavailable
from indexer.gitlab.facts import GroupInfo, GroupLink, ProjectAccessFacts
from indexer.gitlab.snapshot import ProjectSnapshot, TreeEntry
from indexer.settings import Settings

SERVICE = "gitlab"


def connect(settings: Settings, *, retry_transient_errors: bool = True) -> gitlab.Gitlab:
    """A python-gitlab client with labstac's token. Long admin runs let python-gitlab retry
    5xx answers itself; tasks do not, so their own retries (with backoff, and a dead letter
    at the end) take over instead of holding a worker for minutes."""
    if settings.gitlab_token is None:
        raise SettingsInvalid("LABSTAC_GITLAB_TOKEN is required to read projects from GitLab")
    return gitlab.Gitlab(
        str(settings.gitlab_url).rstrip("/"),
        private_token=settings.gitlab_token.get_secret_value(),
        timeout=settings.gitlab_timeout_seconds,
        retry_transient_errors=retry_transient_errors,
        per_page=100,
        # Next-page links go to the configured GitLab, never to a host a response names:
        # the admin token goes nowhere else.
        keep_base_url=True,
    )


@contextmanager
def translated(what: str) -> Iterator[None]:
    try:
        yield
    except GitlabAuthenticationError:
        raise UpstreamUnavailable(SERVICE, "labstac's GitLab token was refused") from None
    except GitlabError as error:
        if error.response_code == 404:
            raise NotFound(f"GitLab has no {what}") from None
        raise UpstreamUnavailable(SERVICE, f"reading {what}: HTTP {error.response_code}") from None
    except requests.RequestException as error:
        raise UpstreamUnavailable(SERVICE, f"reading {what}: {type(error).__name__}") from None


def _readme_path(project: dict[str, Any]) -> str | None:
    """The README GitLab shows for the project (its ``readme_url``), if any."""
    url = project.get("readme_url")
    if not url:
        return None
    path = urlsplit(str(url)).path
    marker = f"/-/blob/{project.get('default_branch')}/"
    return path.split(marker, 1)[1] if marker in path else path.rsplit("/", 1)[-1]


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _links(rows: list[dict[str, Any]] | None) -> tuple[GroupLink, ...]:
    return tuple(
        GroupLink(
            int(row["group_id"]), int(row["group_access_level"]), _date(row.get("expires_at"))
        )
        for row in rows or []
    )


class GitLabReader:
    """One reader per task or per admin run: it remembers the groups it has read, so that a
    run over many projects reads each group once."""

    def __init__(
        self,
        gl: gitlab.Gitlab,
        groups: dict[int, GroupInfo] | None = None,
        readme_max_bytes: int = 1024 * 1024,
        deadline: float | None = None,
    ) -> None:
        self.gl = gl
        self.readme_max_bytes = readme_max_bytes
        # A task's time limit, kept by the reader itself (time.monotonic()): a pool of
        # threads cannot interrupt a task, so a task stops reading once its time is up.
        self.deadline = deadline
        # Shared between the readers of one run's threads: a dict's get and set are atomic,
        # and the worst a race costs is one group read twice.
        self._groups = {} if groups is None else groups

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise UpstreamUnavailable(SERVICE, f"reading {what}: the task's time is up")
        with translated(what):
            yield

    def group(self, group_id: int) -> GroupInfo:
        if group_id not in self._groups:
            with self._reading(f"group {group_id}"):
                data = self.gl.http_get(f"/groups/{group_id}", query_data={"with_projects": False})
            self._groups[group_id] = self._group_info(data)
        return self._groups[group_id]

    @staticmethod
    def _group_info(data: Any) -> GroupInfo:
        parent = data.get("parent_id")
        return GroupInfo(
            id=int(data["id"]),
            full_path=str(data["full_path"]),
            parent_id=int(parent) if parent is not None else None,
            shared_with=_links(data.get("shared_with_groups")),
        )

    def project(self, project_id: int | str) -> dict[str, Any]:
        with self._reading(f"project {project_id}"):
            project = self.gl.projects.get(project_id, license=True)
        attributes: dict[str, Any] = project.attributes
        return attributes

    def projects_with_topic(self, topic: str) -> Iterator[dict[str, Any]]:
        """Every project carrying the topic, keyset-paged by id (no offset limit)."""
        with translated(f"projects with topic {topic}"):
            listing = self.gl.projects.list(
                topic=topic, pagination="keyset", order_by="id", sort="asc", per_page=100,
                iterator=True,
            )  # fmt: skip
            for project in listing:
                yield project.attributes

    def project_ids_below(self, group_id: int) -> list[int]:
        """Every project of a group and its subgroups, as GitLab lists them now (keyset
        pages of 100). NotFound when the group is gone."""
        with self._reading(f"projects of group {group_id}"):
            listing = self.gl.http_list(
                f"/groups/{group_id}/projects",
                query_data={"include_subgroups": True, "with_shared": False, "simple": True,
                            "pagination": "keyset", "order_by": "id", "sort": "asc",
                            "per_page": 100},
                iterator=True,
            )  # fmt: skip
            return sorted(int(row["id"]) for row in listing)

    def project_ids_of_user(self, user_id: int) -> list[int]:
        """Every project of a user's personal namespace. NotFound when the user is gone."""
        with self._reading(f"projects of user {user_id}"):
            listing = self.gl.http_list(
                f"/users/{user_id}/projects",
                query_data={"simple": True, "per_page": 100},
                iterator=True,
            )
            return sorted(int(row["id"]) for row in listing)

    def projects_in(self, topics: Iterable[str]) -> dict[int, dict[str, Any]]:
        """Every project carrying any of these topics, by id (one listing per topic)."""
        projects: dict[int, dict[str, Any]] = {}
        for topic in topics:
            for project in self.projects_with_topic(topic):
                projects[int(project["id"])] = project
        return projects

    def snapshot(self, project: dict[str, Any], max_tree_entries: int = 20_000) -> ProjectSnapshot:
        """Everything an item is built from besides the project record (read before, with
        ``project()``), in as few calls as GitLab allows: the README (LFS objects, not
        pointers), the recursive tree (keyset pages of 100) and the latest release."""
        if project.get("empty_repo") or project.get("repository_access_level") == "disabled":
            return ProjectSnapshot(project, None, (), None)
        ref = str(project.get("default_branch") or "HEAD")
        readme_path = _readme_path(project)
        return ProjectSnapshot(
            project=project,
            readme=self._readme(project["id"], readme_path, ref) if readme_path else None,
            tree=self._tree(project["id"], ref, max_tree_entries),
            latest_release=self._latest_release(project["id"]),
            readme_path=readme_path,
        )

    def _readme(self, project_id: int, path: str, ref: str) -> str | None:
        """The README's text, at most ``readme_max_bytes`` of it: it may be a Git LFS object
        of any size, so it is streamed and the rest is never read."""
        encoded = quote(path, safe="")
        chunks: list[bytes] = []
        try:
            with self._reading(f"README of project {project_id}"):
                response = self.gl.http_get(
                    f"/projects/{project_id}/repository/files/{encoded}/raw",
                    query_data={"ref": ref, "lfs": True},
                    raw=True,
                    streamed=True,
                )
                if not isinstance(response, requests.Response):
                    return None
                try:
                    size = 0
                    for chunk in response.iter_content(chunk_size=64 * 1024):
                        chunks.append(chunk[: self.readme_max_bytes - size])
                        size += len(chunks[-1])
                        if size >= self.readme_max_bytes:
                            break
                finally:
                    response.close()
        except NotFound:
            return None
        return b"".join(chunks).decode("utf-8", errors="replace")

    def _tree(self, project_id: int, ref: str, limit: int) -> tuple[TreeEntry, ...]:
        entries: list[TreeEntry] = []
        try:
            with self._reading(f"tree of project {project_id}"):
                listing = self.gl.http_list(
                    f"/projects/{project_id}/repository/tree",
                    query_data={"recursive": True, "ref": ref, "pagination": "keyset",
                                "per_page": 100},
                    iterator=True,
                )  # fmt: skip
                for row in listing:
                    entries.append(TreeEntry(str(row["path"]), str(row["type"])))
                    if len(entries) >= limit:
                        break
        except NotFound:
            return ()
        return tuple(entries)

    def _latest_release(self, project_id: int) -> dict[str, Any] | None:
        try:
            with self._reading(f"latest release of project {project_id}"):
                release = self.gl.http_get(f"/projects/{project_id}/releases/permalink/latest")
        except NotFound:
            return None
        return release if isinstance(release, dict) else None

    def access_facts(self, project: dict[str, Any]) -> ProjectAccessFacts:
        namespace = project["namespace"]
        return ProjectAccessFacts(
            project_id=int(project["id"]),
            path_with_namespace=str(project["path_with_namespace"]),
            visibility=str(project["visibility"]),
            repository_access_level=str(project.get("repository_access_level", "enabled")),
            namespace_kind=str(namespace["kind"]),
            namespace_id=int(namespace["id"]),
            shared_with=_links(project.get("shared_with_groups")),
        )
