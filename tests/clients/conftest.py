"""One stack for every client test (building it takes seconds): see client_stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_stack import ClientStack, mapping_world
from support import drop_indices, indexed_runtime, make_settings, start_api, stop_process

from gitlab_sim.demo import TOKENS, fill_gitlab_url
from gitlab_sim.server import SimulatorServer


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientStack]:
    world = mapping_world()
    sim = SimulatorServer(world).start()
    fill_gitlab_url(world)
    settings = make_settings(
        gitlab_url=sim.url, gitlab_token=TOKENS["root"], index_prefix=f"c{uuid.uuid4().hex[:10]}"
    )
    runtime = indexed_runtime(settings)
    tmp: Path = tmp_path_factory.mktemp("clients")
    api = start_api(settings, tmp)
    yield ClientStack(world, sim, runtime, api)
    stop_process(api.process)
    sim.stop()
    runtime.close()
    drop_indices(settings.index_prefix)
