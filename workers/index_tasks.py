"""Index tasks: ids in, GitLab state re-read, documents written with a version taken before
the read. Idempotent, so a duplicate or a retry does no harm."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from celery import Task, shared_task

if TYPE_CHECKING:
    from indexer.index.runtime import IndexRuntime

from indexer.errors import NotFound, UpstreamUnavailable
from indexer.lease import Lease
from indexer.task_records import record_reconcile
from workers.app import LabstacTask, labstac_app
from workers.enqueue import enqueue, project_turn, started, still_pending
from workers.events import (
    DELETE_PROJECT,
    INDEX_PROJECT,
    REFRESH_GROUP,
    REFRESH_USER,
    PlannedTask,
)

log = logging.getLogger(__name__)

# A project's reads stop after this (the thread pool cannot interrupt a task; the reader
# keeps the limit itself), and the task is retried later.
READ_SECONDS = 45.0


class IndexWriteFailed(Exception):
    """Some documents were refused by the engine; the task is retried."""


RETRYING: dict[str, Any] = {
    "base": LabstacTask,
    "autoretry_for": (UpstreamUnavailable, IndexWriteFailed),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
}


def _sync(task: Task[Any, Any], name: str, project_id: int) -> dict[str, Any]:
    runtime = labstac_app(task.app).runtime
    project_id = int(project_id)
    # One run of a project at a time, whatever worker or host: a run beside another would
    # read GitLab again for nothing, and undo coalescing (workers.enqueue).
    turn = project_turn(runtime.redis, project_id, str(task.request.id))
    if not turn.acquire():
        queue = runtime.settings.task_queue
        still_pending(task.app, runtime.redis, queue, PlannedTask(name, (project_id,)))
        log.info("project run deferred: another run of it is in progress",
                 extra={"task_id": task.request.id, "project_id": project_id})  # fmt: skip
        return {"project_id": project_id, "deferred": True}
    try:
        started(runtime.redis, name, (project_id,))
        began = time.time()
        outcome = runtime.project_sync(time.monotonic() + READ_SECONDS).sync(project_id)
        log.info(
            "project indexed",
            extra={"task_id": task.request.id, "project_id": project_id,
                   "version": outcome.version, "written": outcome.written,
                   "removed": outcome.removed, "started": round(began, 3)},
        )  # fmt: skip
        if outcome.failures:
            raise IndexWriteFailed(f"{len(outcome.failures)} document(s) refused")
        return {"project_id": project_id, "version": outcome.version, "written": outcome.written}
    finally:
        turn.release()


@shared_task(bind=True, name=INDEX_PROJECT, soft_time_limit=60, time_limit=90, **RETRYING)
def index_project(self: Task[Any, Any], project_id: int) -> dict[str, Any]:
    """Bring one project's documents in line with GitLab (deleting them if it is gone)."""
    return _sync(self, INDEX_PROJECT, project_id)


@shared_task(bind=True, name=DELETE_PROJECT, soft_time_limit=60, time_limit=90, **RETRYING)
def delete_project(self: Task[Any, Any], project_id: int) -> dict[str, Any]:
    """GitLab announced a deletion: re-read, and delete the documents when GitLab confirms
    the project is gone (a 404); versions keep a late older write from bringing it back."""
    return _sync(self, DELETE_PROJECT, project_id)


@shared_task(bind=True, name="labstac.workers.index.reconcile", soft_time_limit=600,
             time_limit=660, **RETRYING)  # fmt: skip
def reconcile(self: Task[Any, Any], access_only: bool = False) -> dict[str, Any]:
    """Compare GitLab with the index and fan the projects that need it out as
    ``index_project`` tasks. One reconcile at a time (a Redis lock)."""
    runtime = labstac_app(self.app).runtime
    kind = "access" if access_only else "full"
    lease = Lease(runtime.redis, f"reconcile:{kind}")
    if not lease.acquire():
        log.info("reconcile already running", extra={"task_id": self.request.id})
        return {"skipped": True}
    try:
        plan = runtime.reconcile_plan(access_only)
        tasks = [PlannedTask(INDEX_PROJECT, (project_id,)) for project_id in plan.project_ids]
        queued = enqueue(self.app, runtime.redis, runtime.settings.task_queue, tasks)
        record_reconcile(
            runtime.redis,
            kind,
            {"listed": plan.listed, "missing": len(plan.missing), "stale": len(plan.stale),
             "gone": len(plan.gone), "enqueued": queued.sent},
        )  # fmt: skip
        log.info(
            "reconcile planned",
            extra={"task_id": self.request.id, "access_only": access_only, "listed": plan.listed,
                   "missing": len(plan.missing), "stale": len(plan.stale), "gone": len(plan.gone)},
        )  # fmt: skip
        return {"listed": plan.listed, "enqueued": len(plan.project_ids)}
    finally:
        lease.release()


@shared_task(bind=True, name=REFRESH_GROUP, soft_time_limit=120, time_limit=180, **RETRYING)
def refresh_group(self: Task[Any, Any], group_id: int) -> dict[str, Any]:
    """A group was renamed, moved or deleted: every project below it is re-read (a write
    that bypassed the version would risk an older state winning). Below it means what
    GitLab lists now (a subgroup moved in without a hook included) and what the index holds
    (the projects of a deleted group, or of one moved away)."""
    runtime = labstac_app(self.app).runtime
    started(runtime.redis, REFRESH_GROUP, (int(group_id),))
    query = {"term": {"_acl.ancestor_ids": int(group_id)}}
    indexed = {
        int(hit["_source"]["_acl"]["project_id"])
        for hit in runtime.engine.documents(runtime.layout.read_alias, ["_acl.project_id"], query)
        if isinstance((hit.get("_source") or {}).get("_acl"), dict)
    }
    try:
        listed = set(runtime.reader().project_ids_below(int(group_id)))
    except NotFound:  # the group is gone: the index says which projects were below it
        listed = set()
    project_ids = sorted(indexed | listed)
    _enqueue_projects(self, runtime, project_ids)
    log.info("group refreshed", extra={"task_id": self.request.id, "group_id": group_id,
                                       "projects": len(project_ids)})  # fmt: skip
    return {"group_id": group_id, "enqueued": len(project_ids)}


@shared_task(bind=True, name=REFRESH_USER, soft_time_limit=120, time_limit=180, **RETRYING)
def refresh_user(self: Task[Any, Any], user_id: int) -> dict[str, Any]:
    """A user was renamed: the projects of their personal namespace have new paths (and so
    new item ids; the old ones redirect)."""
    runtime = labstac_app(self.app).runtime
    started(runtime.redis, REFRESH_USER, (int(user_id),))
    try:
        project_ids = runtime.reader().project_ids_of_user(int(user_id))
    except NotFound:  # the user is gone; user_destroy's own events remove their projects
        project_ids = []
    _enqueue_projects(self, runtime, project_ids)
    log.info("user's projects refreshed", extra={"task_id": self.request.id,
                                                 "user_id": user_id,
                                                 "projects": len(project_ids)})  # fmt: skip
    return {"user_id": user_id, "enqueued": len(project_ids)}


def _enqueue_projects(task: Task[Any, Any], runtime: IndexRuntime, project_ids: list[int]) -> None:
    tasks = [PlannedTask(INDEX_PROJECT, (project_id,)) for project_id in project_ids]
    enqueue(task.app, runtime.redis, runtime.settings.task_queue, tasks)
