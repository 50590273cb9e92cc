"""Index settings for a cluster, on the real engine: each version is built with the
configured shards and replicas, a change of replicas reaches the live index at start, and
several engine addresses work as one."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opensearchpy import OpenSearch
from support import LABSTAC_BIN, OPENSEARCH_URL, ApiServer, free_port, settings_env

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from indexer.index.layout import ensure_index
from indexer.index.runtime import IndexRuntime

pytestmark = pytest.mark.services


def index_settings(client: OpenSearch, alias: str) -> dict[str, Any]:
    found = client.indices.get_settings(index=alias)
    return dict(next(iter(found.values()))["settings"]["index"])


def test_shards_and_replicas_follow_the_settings(
    make_runtime: Callable[..., IndexRuntime],
    opensearch_client: OpenSearch,
    start_api: Callable[..., ApiServer],
) -> None:
    world = generate(seed=5, users=6, groups=4, projects=20)
    with SimulatorServer(world) as sim:
        # The same node twice stands for two nodes: the client spreads calls over both.
        runtime = make_runtime(sim, token_name="admin-mode", index_shards=2, index_replicas=1,
                               opensearch_url=f"{OPENSEARCH_URL},{OPENSEARCH_URL}")  # fmt: skip
        assert runtime.rebuild().run().swapped  # a new version, from the template
        built = index_settings(opensearch_client, runtime.layout.read_alias)
        assert (built["number_of_shards"], built["number_of_replicas"]) == ("2", "1")
        # Fewer replicas: applied to the live index when a process starts, no reindex.
        fewer = IndexRuntime(runtime.settings.model_copy(update={"index_replicas": 0}))
        ensure_index(fewer.engine, fewer.layout)
        fewer.close()
        live = index_settings(opensearch_client, runtime.layout.read_alias)
        assert (live["number_of_shards"], live["number_of_replicas"]) == ("2", "0")
        api = start_api(runtime.settings)
        admin = world.token_named(1, "admin-mode").token
        found = httpx.get(f"{api.url}/api/v1/stac/search", headers={"PRIVATE-TOKEN": admin},
                          timeout=30).json()  # fmt: skip
        assert found["numberMatched"] > 0


def test_migrate_puts_the_index_in_place_before_anything_runs(
    make_runtime: Callable[..., IndexRuntime], opensearch_client: OpenSearch
) -> None:
    """`labstac migrate` (the Helm chart's pre-upgrade Job): a fresh install gets its live
    index; a second run changes nothing; an engine that cannot be reached fails the Job."""
    world = generate(seed=6, users=3, groups=2, projects=3)
    with SimulatorServer(world) as sim:
        runtime = make_runtime(sim, token_name="admin-mode", index_replicas=0)
        env = settings_env(runtime.settings)
        labstac = [LABSTAC_BIN, "migrate"]
        first = subprocess.run(labstac, env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        live = opensearch_client.indices.get_alias(name=runtime.layout.read_alias)
        assert list(live) == [runtime.layout.index_name(1)]
        assert "mapping: current" in first.stdout
        again = subprocess.run(labstac, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert list(opensearch_client.indices.get_alias(name=runtime.layout.read_alias)) == list(
            live
        )
        away = dict(env, LABSTAC_OPENSEARCH_URL=f"http://127.0.0.1:{free_port()}")
        down = subprocess.run(labstac, env=away, capture_output=True, text=True, timeout=120)
        assert down.returncode == 1
        assert "migrate failed" in down.stderr
