"""The whole event pipeline, for real: the simulated GitLab sends its hooks over HTTP to
the labstac API under uvicorn, which enqueues on Redis for a real worker process that reads
the simulator and writes to OpenSearch."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from opensearchpy import OpenSearch
from pipeline_stack import SECRET, Stack
from support import ApiServer, WorkerProcess, make_settings

from indexer.index_layout import ensure_index
from indexer.runtime import IndexRuntime
from indexer.settings import Settings


@pytest.fixture
def stack(
    start_api: Callable[..., ApiServer],
    start_worker: Callable[[Settings], WorkerProcess],
    opensearch_client: OpenSearch,
    redis_client: object,
    tmp_path: Path,
) -> Iterator[Stack]:
    world = generate(seed=71, users=20, groups=12, projects=40)
    with SimulatorServer(world) as sim:
        admin = next(t.token for t in world.tokens if t.user_id == 1 and t.name == "main")
        prefix = f"t{uuid.uuid4().hex[:10]}"
        settings = make_settings(
            gitlab_url=sim.url, gitlab_token=admin, index_prefix=prefix, webhook_secrets=SECRET,
            state_dir=tmp_path / "state", task_visibility_seconds=5,
        )  # fmt: skip
        runtime = IndexRuntime(settings)
        ensure_index(runtime.engine, runtime.layout)
        runtime.rebuild().run()
        api = start_api(settings)
        worker = start_worker(settings)
        yield Stack(sim, settings, runtime, api, worker, opensearch_client, start_worker)
        runtime.close()
        opensearch_client.indices.delete(index=f"{prefix}-items-v*", ignore_unavailable=True)
        opensearch_client.indices.delete_index_template(name=f"{prefix}-items", ignore=[404])
