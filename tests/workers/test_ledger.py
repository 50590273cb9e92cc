"""A task a worker took off the queue and died before recording as unacknowledged is in
neither place, and nothing in the broker brings it back; the ledger of sent tasks does.
The loss is made as a dying worker makes it: the message popped off the real queue."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from opensearchpy import OpenSearch
from redis import Redis
from support import WorkerProcess, wait_until

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from indexer.index.layout import IndexLayout
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of
from workers import ledger
from workers.app import LabstacCelery, create_celery_app
from workers.enqueue import enqueue
from workers.events import INDEX_PROJECT, PlannedTask

pytestmark = pytest.mark.services


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(generate(seed=62, users=10, groups=6, projects=12)) as server:
        yield server


@pytest.fixture
def settings(sim: SimulatorServer, make_runtime: Callable[..., IndexRuntime]) -> Settings:
    return make_runtime(sim).settings


@pytest.fixture
def app(settings: Settings) -> Iterator[LabstacCelery]:
    app = create_celery_app(settings)
    yield app
    app.close()


def catalogued_ids(sim: SimulatorServer) -> list[int]:
    return [p.id for p in sim.world.projects if categories_of(p.topics, DEFAULT_CATEGORIES)
            and p.repository_access_level != "disabled"]  # fmt: skip


def catalogued(sim: SimulatorServer) -> int:
    return catalogued_ids(sim)[0]


def test_only_a_task_in_neither_queue_nor_worker_is_sent_again(
    app: LabstacCelery, settings: Settings, sim: SimulatorServer, redis_client: Redis
) -> None:
    queue = settings.task_queue
    enqueue(app, redis_client, queue, [PlannedTask(INDEX_PROJECT, (catalogued(sim),))])
    later = time.time() + ledger.LOST_AFTER_SECONDS + 1
    # Waiting in its queue, however long: not lost.
    assert ledger.resend_lost(app, redis_client, now=later) == 0
    assert redis_client.llen(queue) == 1
    # Taken off the queue by a worker that died before recording it.
    assert redis_client.rpop(queue) is not None
    assert ledger.resend_lost(app, redis_client, now=later - 5) == 0  # not overdue yet
    assert ledger.resend_lost(app, redis_client, now=later) == 0  # lost? look again later
    confirmed = later + ledger.CONFIRM_SECONDS
    assert ledger.resend_lost(app, redis_client, now=confirmed) == 1
    assert redis_client.llen(queue) == 1  # back in its queue, once
    assert ledger.resend_lost(app, redis_client, now=confirmed) == 0
    assert ledger.resend_lost(app, redis_client, now=confirmed + 2 * ledger.CONFIRM_SECONDS) == 0


def test_a_retried_task_waiting_behind_newer_ones_is_not_taken_for_lost(
    app: LabstacCelery, settings: Settings, sim: SimulatorServer, redis_client: Redis
) -> None:
    """A retry (or a hand-back) goes to the back of the queue: its ledger time follows, so
    newer tasks ahead of it do not make it look lost."""
    queue, projects = settings.task_queue, catalogued_ids(sim)
    enqueue(app, redis_client, queue, [PlannedTask(INDEX_PROJECT, (projects[0],))])
    retried = redis_client.zrange(ledger.SENT, 0, 0)[0]
    time.sleep(0.05)
    enqueue(app, redis_client, queue, [PlannedTask(INDEX_PROJECT, (projects[1],))])
    # The first one's message went back behind the second (as a retry publishes it).
    message = redis_client.rpop(queue)
    redis_client.lpush(queue, message)
    ledger.requeued(redis_client, [retried])
    later = time.time() + ledger.LOST_AFTER_SECONDS + 1
    for seconds in (0, ledger.CONFIRM_SECONDS, 2 * ledger.CONFIRM_SECONDS):
        assert ledger.resend_lost(app, redis_client, now=later + seconds) == 0
    assert redis_client.llen(queue) == 2


def test_a_lost_task_reaches_a_worker_and_leaves_the_ledger(
    app: LabstacCelery,
    settings: Settings,
    sim: SimulatorServer,
    redis_client: Redis,
    opensearch_client: OpenSearch,
    start_worker: Callable[[Settings], WorkerProcess],
) -> None:
    project_id = catalogued(sim)
    queue = settings.task_queue
    enqueue(app, redis_client, queue, [PlannedTask(INDEX_PROJECT, (project_id,))])
    assert redis_client.rpop(queue) is not None  # lost, as a dying worker loses it
    lost_at = time.monotonic()
    worker = start_worker(settings)
    alias = IndexLayout(settings.index_prefix).read_alias
    project = sim.world.project_by_id[project_id]
    keys = {f"{c.id}:{project_id}" for c in categories_of(project.topics, DEFAULT_CATEGORIES)}

    def indexed() -> bool:
        opensearch_client.indices.refresh(index=alias)
        return all(opensearch_client.exists(index=alias, id=key) for key in keys)

    wait_until(indexed, ledger.LOST_AFTER_SECONDS + 60, "the lost task to be sent again")
    print(f"\nlost task indexed {time.monotonic() - lost_at:.0f} s after it was lost")
    assert "tasks lost on their way to a worker sent again" in worker.log()
    wait_until(lambda: redis_client.zcard(ledger.SENT) == 0, 30, "the ledger to empty")
    assert redis_client.hlen(ledger.SENT_TASKS) == 0
