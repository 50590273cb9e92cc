"""The whole event pipeline, for real: the simulated GitLab sends its hooks over HTTP to
the labstac API under uvicorn, which enqueues on Redis for a real worker process that reads
the simulator and writes to OpenSearch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from pipeline_stack import SECRET, Stack
from support import ApiServer, WorkerProcess

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings


@pytest.fixture
def stack(
    start_api: Callable[..., ApiServer],
    start_worker: Callable[[Settings], WorkerProcess],
    make_runtime: Callable[..., IndexRuntime],
    opensearch_client: OpenSearch,
    tmp_path: Path,
) -> Iterator[Stack]:
    world = generate(seed=71, users=20, groups=12, projects=40)
    with SimulatorServer(world) as sim:
        runtime = make_runtime(
            sim, webhook_secrets=SECRET, state_dir=tmp_path / "state", task_visibility_seconds=5
        )
        runtime.rebuild().run()
        settings = runtime.settings
        api = start_api(settings)
        worker = start_worker(settings)
        yield Stack(sim, settings, runtime, api, worker, opensearch_client, start_worker)
