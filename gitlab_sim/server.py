"""Runs the simulator under uvicorn, in a background thread of the calling process (tests)
or as its own process (``python -m gitlab_sim serve``, for the demo and benchmarks)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn

from gitlab_sim.api import SimulatorApp
from gitlab_sim.changes import Changes
from gitlab_sim.delivery import Delivery
from gitlab_sim.faults import Faults
from gitlab_sim.hooks import HookRegistry
from gitlab_sim.world import World


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SimulatorServer:
    """A simulator listening on 127.0.0.1. The world's ``instance_url`` is set to the
    server's own URL, so every ``web_url`` and ``Link`` points back at it, as GitLab's do."""

    def __init__(self, world: World, port: int | None = None, faults: Faults | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        world.instance_url = self.url
        self.app = SimulatorApp(world, faults)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def world(self) -> World:
        return self.app.world

    @property
    def faults(self) -> Faults:
        return self.app.faults

    @property
    def changes(self) -> Changes:
        """Every change to the world goes through here; it sends the hooks GitLab would."""
        return self.app.changes

    @property
    def hooks(self) -> HookRegistry:
        return self.app.hooks

    @property
    def delivery(self) -> Delivery:
        return self.app.delivery

    def start(self) -> SimulatorServer:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve()),  # type: ignore[union-attr]
            name=f"gitlab-sim-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the GitLab simulator did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.app.delivery.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        uvicorn.Server(config).run()
