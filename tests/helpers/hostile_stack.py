"""The stack the hostile-input tests attack: one simulated GitLab, an index built from it,
the API under uvicorn (`labstac serve`) and, where a test needs one, a worker process
(`labstac worker`); and the checks they share (alive, memory, refusals)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from support import ApiServer, WorkerProcess, start_worker, wait_until

from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import World
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings

SECRET = "hostile-secret-0123456789"
STAC = "/api/v1/stac"


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A process's resident memory (VmRSS) or its peak (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field_name} for process {pid}")


@dataclass
class HostileStack:
    world: World
    sim: SimulatorServer
    runtime: IndexRuntime
    api: ApiServer
    tmp: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def stac(self) -> str:
        return f"{self.api.url}{STAC}"

    def token(self, username: str, name: str = "main") -> str:
        return self.world.token_named(self.world.user_by_username[username].id, name).token

    def assert_api_alive(self) -> None:
        assert self.api.process.poll() is None, f"the API died:\n{self.api.log()[-3000:]}"
        assert httpx.get(f"{self.api.url}/healthz", timeout=10).status_code == 200

    def start_worker(self, **overrides: Any) -> WorkerProcess:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        worker = start_worker(settings, self.tmp, prefix="hostile")
        self.workers.append(worker)
        return worker

    def hook(self) -> None:
        self.sim.hooks.add_system_hook(
            f"{self.api.url}/hooks/gitlab", token=SECRET, push_events=True,
            tag_push_events=True, repository_update_events=True,
        )  # fmt: skip

    def item(self, project_id: int, token: str | None = None) -> dict[str, Any] | None:
        """The first item of a project, as the admin sees it (None when it is not there)."""
        project = self.world.project_by_id[project_id]
        headers = {"PRIVATE-TOKEN": token or self.token("user1")}
        found = httpx.get(
            f"{self.stac}/search",
            params={"ids": self.world.project_full_path(project)},
            headers=headers,
            timeout=30,
        )
        assert found.status_code == 200, found.text
        features: list[dict[str, Any]] = found.json()["features"]
        return features[0] if features else None

    def wait_for_item(
        self, project_id: int, check: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def arrived() -> bool:
            item = self.item(project_id)
            if item is not None and check(item):
                found.update(item)
                return True
            return False

        try:
            wait_until(arrived, timeout, f"the item of project {project_id}")
        except AssertionError as error:
            logs = "\n".join(worker.log()[-3000:] for worker in self.workers)
            raise AssertionError(f"{error}; the workers' logs end:\n{logs}") from None
        return found


def assert_refused(
    response: httpx.Response, status: int = 400, mentions: str | None = None
) -> dict[str, Any]:
    """A clean refusal: the status, and labstac's JSON error body saying why."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "description"}, body
    if mentions is not None:
        assert mentions in body["description"], body
    return body


def catalogued_projects(world: World) -> list[int]:
    """Ids of projects with an item (a category topic, a readable repository), oldest first."""
    return [
        project.id
        for project in world.projects
        if any(topic.startswith("sharinghub:") for topic in project.topics)
        and project.repository_access_level != "disabled"
        and not project.archived
    ]


def push_readme(stack: HostileStack, project_id: int, readme: str, **files: str) -> None:
    """Push a README (and other files) to a project's default branch, as its owner would;
    the simulator sends the hooks GitLab would."""
    stack.sim.changes.push_files(project_id, 1, {"README.md": readme, **files})
    stack.sim.delivery.flush()


def warnings_of(item: dict[str, Any]) -> list[str]:
    return list(item["properties"].get("labstac:warnings", []))


def group_rss_kib(pid: int) -> int:
    """Resident memory of a process and the processes of its group (a worker's pool)."""
    out = subprocess.run(
        ["ps", "-o", "rss=", "-g", str(os.getpgid(pid))], capture_output=True, text=True, check=True
    ).stdout
    return sum(int(line) for line in out.split())


def with_worker(stack: HostileStack, **overrides: Any) -> HostileStack:
    """The stack with a worker and labstac's system hook in the simulated GitLab."""
    stack.start_worker(**overrides)
    stack.hook()
    return stack
