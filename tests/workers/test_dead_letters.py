"""A task that keeps failing is retried, then kept as a dead letter that `labstac status`
counts and `labstac retry-dead` replays once the cause is gone."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest
from opensearchpy import OpenSearch
from redis import Redis
from support import LABSTAC_BIN, WorkerProcess, settings_env, wait_until

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from indexer.index.layout import IndexLayout
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of
from indexer.task_records import DEAD_LETTERS
from workers.app import create_celery_app

pytestmark = pytest.mark.services


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(generate(seed=61, users=20, groups=12, projects=30)) as server:
        yield server


@pytest.fixture
def settings(sim: SimulatorServer, make_runtime: Callable[..., IndexRuntime]) -> Settings:
    return make_runtime(sim, task_max_retries=1).settings


def status(settings: Settings) -> str:
    result = subprocess.run([LABSTAC_BIN, "status"], env=settings_env(settings),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    return result.stdout


def test_a_failing_task_becomes_a_dead_letter_and_is_replayed(
    start_worker: Callable[[Settings], WorkerProcess],
    settings: Settings,
    sim: SimulatorServer,
    redis_client: Redis,
    opensearch_client: OpenSearch,
) -> None:
    worker = start_worker(settings)
    project = next(p for p in sim.world.projects if categories_of(p.topics, DEFAULT_CATEGORIES)
                   and p.repository_access_level != "disabled")  # fmt: skip
    sim.faults.update({"server_error_share": 1.0})  # GitLab answers 5xx to everything
    app = create_celery_app(settings)
    try:
        app.send_task("labstac.workers.index.index_project", args=(project.id,))
        wait_until(lambda: redis_client.llen(DEAD_LETTERS) == 1, 60, "the dead letter")
    finally:
        app.close()
    assert sim.app.stats.faults["server_error"] == 2  # the first run and its one retry
    report = status(settings)
    assert "1 dead letter(s)" in report
    assert "1 failed" in report
    assert "labstac.workers.index.index_project" in worker.log()

    sim.faults.update({"server_error_share": 0.0})
    replay = subprocess.run([LABSTAC_BIN, "retry-dead"], env=settings_env(settings),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert replay.returncode == 0 and "replayed 1 dead letter(s); 0 left" in replay.stdout
    alias = IndexLayout(settings.index_prefix).read_alias
    keys = {f"{c.id}:{project.id}" for c in categories_of(project.topics, DEFAULT_CATEGORIES)}

    def indexed() -> bool:
        opensearch_client.indices.refresh(index=alias)
        return all(opensearch_client.exists(index=alias, id=key) for key in keys)

    wait_until(indexed, 30, "the replayed task to index the project")
    assert "0 dead letter(s)" in status(settings)
