"""Fixtures that run the GitLab simulator under uvicorn in this test process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hooktest import Hub

from gitlab_sim.golden import golden_world
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import World


@pytest.fixture
def serve_world() -> Iterator[Callable[[World], SimulatorServer]]:
    servers: list[SimulatorServer] = []

    def serve(world: World) -> SimulatorServer:
        server = SimulatorServer(world).start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture
def golden(serve_world: Callable[[World], SimulatorServer]) -> SimulatorServer:
    return serve_world(golden_world())


# ------------------------------------------------------------- part 2: hooks


@pytest.fixture
def hub() -> Iterator[Hub]:
    """The golden world with hooks, deliveries, changes and a receiver (hooktest)."""
    made = Hub.start(golden_world())
    yield made
    made.stop()
