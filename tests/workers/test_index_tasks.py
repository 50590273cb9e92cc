"""Index tasks run in a real worker process against the simulated GitLab and real
OpenSearch: a task sent here re-reads the project and its documents appear; a project gone
from GitLab has its documents removed; the reconcile task fans out what needs re-indexing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opensearchpy import OpenSearch
from support import WorkerProcess, wait_until

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import World
from indexer.index.layout import IndexLayout
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of
from workers.app import create_celery_app

pytestmark = pytest.mark.services


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(generate(seed=41, users=20, groups=12, projects=60)) as server:
        yield server


@pytest.fixture
def settings(sim: SimulatorServer, make_runtime: Callable[..., IndexRuntime]) -> Settings:
    return make_runtime(sim).settings


def indexed_ids(client: OpenSearch, settings: Settings) -> set[str]:
    alias = IndexLayout(settings.index_prefix).read_alias
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, body={"size": 1000, "_source": False})["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def wanted(world: World) -> set[str]:
    return {
        f"{c.id}:{p.id}"
        for p in world.projects
        if p.repository_access_level != "disabled"
        for c in categories_of(p.topics, DEFAULT_CATEGORIES)
    }


def test_index_project_runs_in_the_worker(
    start_worker: Callable[[Settings], WorkerProcess],
    settings: Settings,
    sim: SimulatorServer,
    opensearch_client: OpenSearch,
) -> None:
    start_worker(settings)
    world = sim.world
    project = next(p for p in world.projects if categories_of(p.topics, DEFAULT_CATEGORIES)
                   and p.repository_access_level != "disabled")  # fmt: skip
    keys = {f"{c.id}:{project.id}" for c in categories_of(project.topics, DEFAULT_CATEGORIES)}
    app = create_celery_app(settings)
    try:
        app.send_task("labstac.workers.index.index_project", args=(project.id,))
        wait_until(lambda: keys <= indexed_ids(opensearch_client, settings), 30, "the documents")
        world.projects.remove(project)
        world.changed()
        app.send_task("labstac.workers.index.index_project", args=(project.id,))
        wait_until(lambda: not keys & indexed_ids(opensearch_client, settings), 30, "the delete")
    finally:
        app.close()


def test_reconcile_task_fans_out_and_fills_the_index(
    start_worker: Callable[[Settings], WorkerProcess],
    settings: Settings,
    sim: SimulatorServer,
    opensearch_client: OpenSearch,
) -> None:
    start_worker(settings)
    app = create_celery_app(settings)
    try:
        app.send_task("labstac.workers.index.reconcile")
        want = wanted(sim.world)
        wait_until(lambda: indexed_ids(opensearch_client, settings) == want, 60, "reconcile")
    finally:
        app.close()
