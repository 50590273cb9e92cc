"""One stack for every client test (building it takes seconds): see client_stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_stack import ClientStack, mapping_world
from opensearchpy import OpenSearch
from support import OPENSEARCH_URL, make_settings, start_api, stop_process

from gitlab_sim.demo import TOKENS, fill_gitlab_url
from gitlab_sim.server import SimulatorServer
from indexer.index.layout import ensure_index
from indexer.index.runtime import IndexRuntime


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientStack]:
    world = mapping_world()
    sim = SimulatorServer(world).start()
    fill_gitlab_url(world)
    settings = make_settings(
        gitlab_url=sim.url, gitlab_token=TOKENS["root"], index_prefix=f"c{uuid.uuid4().hex[:10]}"
    )
    runtime = IndexRuntime(settings)
    ensure_index(runtime.engine, runtime.layout)
    summary = runtime.rebuild().run()
    assert summary.swapped and not summary.failed, summary
    tmp: Path = tmp_path_factory.mktemp("clients")
    api = start_api(settings, tmp)
    yield ClientStack(world, sim, runtime, api)
    stop_process(api.process)
    sim.stop()
    runtime.close()
    client = OpenSearch(hosts=[OPENSEARCH_URL], timeout=30)
    client.indices.delete(index=f"{settings.index_prefix}-items-v*", ignore_unavailable=True)
    client.indices.delete_index_template(name=f"{settings.index_prefix}-items", ignore=[404])
    client.close()
