"""Fixtures of the cluster tests: the three-node engine (started once for the session, by
scripts/services.sh, and stopped after when it was started here) and index runtimes on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from engine_cluster import EngineCluster
from opensearchpy import OpenSearch
from redis import Redis
from support import make_settings

from gitlab_sim.server import SimulatorServer
from indexer.index.layout import ensure_index
from indexer.index.runtime import IndexRuntime

# Ports beside the single node's 9200/9300, so both run at once.
CLUSTER_HTTP_PORT = int(os.environ.get("LABSTAC_TEST_CLUSTER_PORT", "9210"))


@pytest.fixture(scope="session")
def engine_cluster() -> Iterator[EngineCluster]:
    cluster = EngineCluster(CLUSTER_HTTP_PORT, CLUSTER_HTTP_PORT + 100)
    seconds = cluster.up()
    print(f"\nthree-node cluster up in {seconds:.0f} s")
    yield cluster
    if cluster.started_here:
        cluster.down()


@pytest.fixture
def cluster_client(engine_cluster: EngineCluster) -> Iterator[OpenSearch]:
    # A node a previous test killed is back before the next test starts.
    engine_cluster.up()
    client = engine_cluster.client()
    engine_cluster.wait_green(client)
    yield client
    client.close()


@pytest.fixture
def make_cluster_runtime(
    engine_cluster: EngineCluster, cluster_client: OpenSearch, redis_client: Redis
) -> Iterator[Callable[..., IndexRuntime]]:
    """Index runtimes on the cluster (every node's address, replicas 1), on their own index
    prefix; their indices and templates go after the test."""
    made: list[IndexRuntime] = []

    def make(sim: SimulatorServer, **overrides: object) -> IndexRuntime:
        values: dict[str, object] = {
            "gitlab_url": sim.url, "gitlab_token": sim.world.token_named(1, "main").token,
            "index_prefix": f"c{uuid.uuid4().hex[:10]}", "opensearch_url": engine_cluster.urls,
            "index_shards": 3, "index_replicas": 1,
        }  # fmt: skip
        values.update(overrides)
        runtime = IndexRuntime(make_settings(**values))
        ensure_index(runtime.engine, runtime.layout)
        made.append(runtime)
        return runtime

    yield make
    engine_cluster.up()
    for runtime in made:
        runtime.close()
        prefix = runtime.settings.index_prefix
        cluster_client.indices.delete(index=f"{prefix}*", ignore_unavailable=True)
        cluster_client.indices.delete_index_template(name=f"{prefix}-items", ignore=[404])
        cluster_client.indices.delete_index_template(name=f"{prefix}fresh-items", ignore=[404])
