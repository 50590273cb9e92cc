"""Worker liveness: a small periodic task that proves a worker takes tasks off the queue."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import task_failure, task_success, worker_ready

from indexer.errors import UpstreamUnavailable
from indexer.heartbeat import record_heartbeat
from indexer.task_records import count_outcome
from workers.app import LabstacCelery, labstac_app

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="labstac.workers.health.heartbeat",
    soft_time_limit=10,
    time_limit=20,
    ignore_result=True,
)
def heartbeat(self: Task[Any, Any]) -> dict[str, str]:
    """Record that this worker is alive; ``labstac status`` reads it back."""
    app = labstac_app(self.app)
    worker = str(self.request.hostname or "unknown")
    beat = record_heartbeat(app.redis, worker)
    log.info("heartbeat", extra={"task_id": self.request.id, "worker": worker})
    return {"worker": beat.worker, "at": beat.at.isoformat()}


@worker_ready.connect
def _heartbeat_on_start(sender: Any = None, **_: Any) -> None:
    # Report at once rather than after the first beat interval, so `labstac status` shows a
    # freshly started worker immediately.
    app = getattr(sender, "app", None)
    if isinstance(app, LabstacCelery):
        record_heartbeat(app.redis, str(sender.hostname))


@task_success.connect
def _count_success(sender: Any = None, **_: Any) -> None:
    _count(sender, "done")


@task_failure.connect
def _count_failure(sender: Any = None, **_: Any) -> None:
    _count(sender, "failed")


def _count(sender: Any, outcome: str) -> None:
    # Counts are for operators; with Redis away, one goes uncounted rather than the task's
    # own ending failing with it.
    app = getattr(sender, "app", None)
    if isinstance(app, LabstacCelery):
        with contextlib.suppress(UpstreamUnavailable):
            count_outcome(app.redis, outcome)
