"""Fixtures of the cluster tests: the three-node engine (started once for the session, by
scripts/services.sh, and stopped after when it was started here), a client of it standing
in for the single node's, and index runtimes on it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from engine_cluster import EngineCluster
from opensearchpy import OpenSearch

from gitlab_sim.server import SimulatorServer
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
def opensearch_client(engine_cluster: EngineCluster) -> Iterator[OpenSearch]:
    """The cluster's client, here in place of the single node's (make_runtime cleans up
    with it too). A node a previous test killed is back before the next test starts."""
    engine_cluster.up()
    client = engine_cluster.client()
    engine_cluster.wait_green(client)
    yield client
    client.close()


@pytest.fixture
def make_cluster_runtime(
    make_runtime: Callable[..., IndexRuntime], engine_cluster: EngineCluster
) -> Callable[..., IndexRuntime]:
    """Index runtimes on the cluster: every node's address, three shards, one replica."""

    def make(sim: SimulatorServer, **overrides: object) -> IndexRuntime:
        cluster = {"opensearch_url": engine_cluster.urls, "index_shards": 3, "index_replicas": 1}
        return make_runtime(sim, **{**cluster, **overrides})

    return make
