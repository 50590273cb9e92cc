"""The processes a benchmark starts: the GitLab simulator serving a world (its own process,
so that it does not share the benchmark's interpreter lock), and waiting for a service."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

from gitlab_sim.world import World  # noqa: E402


def wait_http(
    url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 120
) -> None:
    """Return once ``url`` answers 200; fail loudly if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the process behind {url} exited (code {process.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s")


def serve_world(
    world: World, world_file: Path, port: int, latency_ms: float = 0.0
) -> tuple[subprocess.Popen[bytes], str]:
    """Save the world, serve it with the simulator, and return the process and its URL
    once it answers."""
    world.save(world_file)
    process = subprocess.Popen(
        [sys.executable, "-m", "gitlab_sim", "serve", "--world", str(world_file),
         "--port", str(port), "--latency-ms", str(latency_ms)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/-/sim/health", process)
    return process, url
