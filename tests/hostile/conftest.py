"""Fixtures of the hostile-input tests: a module shares one stack (building it takes
seconds); each test checks that the processes it hit are still alive."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hostile_stack import SECRET, HostileStack
from opensearchpy import OpenSearch
from redis import Redis
from support import (
    OPENSEARCH_URL,
    REDIS_HOST_URL,
    REDIS_TEST_DB,
    make_settings,
    start_api,
    stop_process,
)

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import World
from indexer.index.layout import ensure_index
from indexer.index.runtime import IndexRuntime


@pytest.fixture(scope="module")
def make_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., HostileStack]]:
    """Builds stacks on a world the test module shapes first (``prepare``), with settings
    overrides; everything they started stops, and their indices go, after the module."""
    made: list[HostileStack] = []
    client = OpenSearch(hosts=[OPENSEARCH_URL], timeout=30)

    def make(
        prepare: Callable[[World], None] | None = None,
        labstac_token: str = "main",  # noqa: S107 - a token name of the world
        **overrides: Any,
    ) -> HostileStack:
        # No cached caller or rate count left by an earlier stack. (Not the whole database:
        # the event counter must only grow while the stacks of a module write.)
        redis = Redis.from_url(f"{REDIS_HOST_URL}/{REDIS_TEST_DB}")
        for pattern in ("unknown-tokens", "token", "user-tokens", "memberships"):
            for key in redis.scan_iter(f"labstac:{pattern}:*"):
                redis.delete(key)
        redis.close()
        world = generate(seed=2026, users=12, groups=6, projects=30)
        if prepare is not None:
            prepare(world)
        sim = SimulatorServer(world).start()
        tmp = tmp_path_factory.mktemp("hostile")
        admin = world.token_named(1, labstac_token).token
        settings = make_settings(
            gitlab_url=sim.url, gitlab_token=admin, index_prefix=f"h{uuid.uuid4().hex[:10]}",
            webhook_secrets=SECRET, state_dir=tmp / "state", task_visibility_seconds=5,
            **overrides,
        )  # fmt: skip
        runtime = IndexRuntime(settings)
        ensure_index(runtime.engine, runtime.layout)
        summary = runtime.rebuild().run()
        assert summary.swapped, summary
        stack = HostileStack(world, sim, runtime, start_api(settings, tmp), tmp)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        for worker in stack.workers:
            stop_process(worker.process)
        stop_process(stack.api.process)
        stack.sim.stop()
        prefix = stack.settings.index_prefix
        stack.runtime.close()
        client.indices.delete(index=f"{prefix}-items-v*", ignore_unavailable=True)
        client.indices.delete_index_template(name=f"{prefix}-items", ignore=[404])
    client.close()
