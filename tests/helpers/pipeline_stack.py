"""The test stack of the event pipeline: the simulated GitLab, the labstac API and a worker
process, on real Redis and OpenSearch."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from index_checks import index_differences
from opensearchpy import OpenSearch
from support import ApiServer, WorkerProcess

from gitlab_sim.hooks import Hook
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import World
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings

SECRET = "pipeline-secret-0123456789"


@dataclass
class Stack:
    sim: SimulatorServer
    settings: Settings
    runtime: IndexRuntime
    api: ApiServer
    worker: WorkerProcess
    client: OpenSearch
    start_worker: Callable[[Settings], WorkerProcess]

    @property
    def hook_url(self) -> str:
        return f"{self.api.url}/hooks/gitlab"

    def system_hook(self) -> Hook:
        return self.sim.hooks.add_system_hook(
            self.hook_url, token=SECRET, push_events=True, tag_push_events=True,
            repository_update_events=True,
        )  # fmt: skip

    def settle(self, timeout: float = 45.0) -> None:
        """Wait until every delivery is sent and the index equals the world."""
        self.sim.delivery.flush()
        deadline = time.monotonic() + timeout
        problems: list[str] = []
        while time.monotonic() < deadline:
            problems = index_differences(self.client, self.runtime, self.sim.world)
            if not problems:
                return
            time.sleep(0.3)
        raise AssertionError("the index did not reach GitLab's state:\n" + "\n".join(problems[:15]))


def catalogued(world: World, visibility: str | None = None) -> list[int]:
    """Ids of projects that have items, a repository open to whoever sees the project,
    and are not archived."""
    return [
        p.id
        for p in world.projects
        if any(t.startswith("sharinghub:") for t in p.topics)
        and p.repository_access_level == "enabled"
        and not p.archived
        and (visibility is None or p.visibility == visibility)
    ]
