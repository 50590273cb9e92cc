"""The MLflow pass: MLflow sends no events, so its registry is read on a schedule, and the
projects whose registered models changed are re-indexed like any other change."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from indexer.lease import Lease
from indexer.mlflow.client import MlflowClient
from indexer.mlflow.registry_pass import run_pass
from workers.app import LabstacTask, labstac_app
from workers.enqueue import enqueue
from workers.events import INDEX_PROJECT, PlannedTask

log = logging.getLogger(__name__)

REGISTRY_READ_TASK = "labstac.workers.mlflow.registry_pass"


@shared_task(bind=True, base=LabstacTask, name=REGISTRY_READ_TASK, soft_time_limit=240,
             time_limit=300)  # fmt: skip
def registry_pass(self: Task[Any, Any]) -> dict[str, Any]:
    """Read MLflow's registry; re-index the projects whose models changed. A failed read
    (MLflow down) changes nothing and is recorded for ``labstac status``; the next pass
    tries again, so the task itself is not retried."""
    runtime = labstac_app(self.app).runtime
    settings = runtime.settings
    if settings.mlflow_url is None:
        return {"skipped": "no LABSTAC_MLFLOW_URL"}
    lease = Lease(runtime.redis, "mlflow-pass")
    if not lease.acquire():
        return {"skipped": "another pass is running"}
    try:
        token = settings.mlflow_token.get_secret_value() if settings.mlflow_token else None
        with MlflowClient(
            str(settings.mlflow_url), token, settings.gitlab_timeout_seconds
        ) as client:
            outcome = run_pass(client, runtime.redis)
        tasks = [PlannedTask(INDEX_PROJECT, (project_id,)) for project_id in outcome.changed]
        queued = enqueue(self.app, runtime.redis, settings.task_queue, tasks) if tasks else None
        log.info(
            "MLflow pass done" if outcome.ok else "MLflow pass failed",
            extra={"task_id": self.request.id, "models": outcome.models,
                   "projects": outcome.projects, "changed": len(outcome.changed),
                   "enqueued": queued.sent if queued else 0, "error": outcome.error},
        )  # fmt: skip
        return {"ok": outcome.ok, "changed": outcome.changed}
    finally:
        lease.release()
