"""`make up`'s own entry point (scripts/stack.sh) on this machine: it brings up the demo
GitLab, indexes it, starts the API, a worker and beat, and prints examples; the examples work
as printed, each demo user seeing what GitLab lets them see; `down` leaves nothing of its
own running."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from support import REDIS_TEST_DB, free_port

from gitlab_sim.demo import TOKENS, demo_world
from gitlab_sim.permissions import Caller, Oracle
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def expected_counts() -> dict[str, int]:
    world = demo_world()
    counts = {}
    for name in ("", "alice", "bob", "carol", "root"):
        token = world.token_by_value[TOKENS[name]] if name else None
        caller = Caller.with_token(world, token) if token else Caller.anonymous()
        oracle = Oracle(world, caller)
        counts[name or "anon"] = sum(
            len(categories_of(p.topics, DEFAULT_CATEGORIES))
            for p in world.projects
            if oracle.can_read_repository(p)
        )
    return counts


def test_make_up_runs_the_demo_and_its_examples_work(tmp_path: Path, redis_client: object) -> None:
    api_port, gitlab_port = free_port(), free_port()
    env_file = tmp_path / "labstac.env"
    # The same file `up` writes on first use, on a prefix, queue and database of the test's own.
    env_file.write_text(
        f"LABSTAC_GITLAB_URL=http://127.0.0.1:{gitlab_port}\n"
        f"LABSTAC_GITLAB_TOKEN={TOKENS['root']}\n"
        "LABSTAC_WEBHOOK_SECRETS=demo-secret-0123456789\n"
        f"LABSTAC_REDIS_URL=redis://127.0.0.1:6379/{REDIS_TEST_DB}\n"
        f"LABSTAC_INDEX_PREFIX=t{uuid.uuid4().hex[:8]}\n"
        f"LABSTAC_TASK_QUEUE=demo-{uuid.uuid4().hex[:8]}\n"
        f"LABSTAC_PORT={api_port}\nLABSTAC_STATE_DIR={tmp_path / 'state'}\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LABSTAC_")},
        "ENV_FILE": str(env_file), "RUN_DIR": str(tmp_path / "run"),
        "LOG_DIR": str(tmp_path / "log"), "LABSTAC_PORT": str(api_port),
        "DEMO_GITLAB_PORT": str(gitlab_port),
    }  # fmt: skip
    stack = str(ROOT / "scripts" / "stack.sh")
    try:
        up = subprocess.run([stack, "up"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"STAC API      http://127.0.0.1:{api_port}/api/v1/stac" in up.stdout
        commands = [line[2:] for line in up.stdout.splitlines() if line.startswith("$ ")]
        assert len(commands) == 3

        counts = subprocess.run(["bash", "-c", commands[0]], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        seen = dict(re.findall(r"^(\w+)\s+(\d+) items$", counts.stdout, re.M))
        assert {k: int(v) for k, v in seen.items()} == expected_counts(), counts.stdout

        models = subprocess.run(["bash", "-c", commands[1]], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert "eo-lab/models/flood-segmentation" in models.stdout
        assert "wine-co/wine-quality" not in models.stdout  # alice is not in wine-co

        change = subprocess.run(["bash", "-c", commands[2]], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert change.stdout.strip() == "200", change.stdout + change.stderr
    finally:
        down = subprocess.run([stack, "down"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
    assert down.returncode == 0, down.stderr
    assert not listening(api_port) and not listening(gitlab_port)
    assert not list((tmp_path / "run").glob("*.pid"))
