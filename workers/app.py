"""The Celery application, built from the settings by the entry point (``labstac worker``,
``labstac beat``) or by the API to enqueue. Nothing connects when this module is imported."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.exceptions import Reject, Retry
from celery.signals import task_postrun
from redis import Redis
from redis.exceptions import RedisError

from indexer.errors import UpstreamUnavailable
from indexer.redis_client import create_redis
from indexer.settings import Settings
from indexer.task_records import count_delivery, dead_letter, record_dead_letter
from workers import ledger

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    # Only workers run tasks: the API builds this app to enqueue, and must not load the
    # indexing stack (item building, geometry, pystac) it never uses.
    from indexer.index.runtime import IndexRuntime

# How a task's retry waits for the broker (it publishes a new message): about a minute.
PATIENT_PUBLISH = {"max_retries": 30, "interval_start": 0.5, "interval_step": 0.5,
                   "interval_max": 2}  # fmt: skip

# Modules whose tasks every worker registers.
TASK_MODULES = (
    "workers.health", "workers.index_tasks", "workers.access_tasks", "workers.recovery",
    "workers.mlflow_tasks",
)  # fmt: skip


class LabstacCelery(Celery):
    """A Celery app that carries labstac's settings, so tasks reach them through
    ``self.app`` instead of a process-wide global."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("labstac", broker=settings.redis_url_str, set_as_current=False)
        self.labstac_settings = settings

    @cached_property
    def redis(self) -> Redis:
        """This process's Redis client for task state (heartbeats, counters, caches)."""
        return create_redis(self.labstac_settings)

    @cached_property
    def runtime(self) -> IndexRuntime:
        """This process's engine, Redis and layout for index tasks (readers are per task)."""
        from indexer.index.runtime import IndexRuntime

        return IndexRuntime(self.labstac_settings, retry_transient_errors=False)


class LabstacTask(Task):  # type: ignore[type-arg]
    """Base of labstac's tasks: a task that fails after its last retry becomes a dead letter
    (``labstac status`` counts them, ``labstac retry-dead`` replays them), and so does one
    whose process died under it ``task_max_deliveries`` times: a poison message must not
    kill worker after worker."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        if request.id and not request.called_directly:
            app = labstac_app(self.app)
            try:
                deliveries = count_delivery(app.redis, request.id, request.retries or 0)
            except UpstreamUnavailable:
                deliveries = 0  # Redis away: the task itself will fail and be retried
            limit = app.labstac_settings.task_max_deliveries
            if deliveries > limit:
                log.error(
                    "task dead-lettered: its process died during each delivery",
                    extra={"task_id": request.id, "task": self.name, "deliveries": limit},
                )
                self._dead_letter(
                    request.id, args, kwargs, f"its worker process died {limit} times running it"
                )
                return None
        return super().__call__(*args, **kwargs)

    def retry(self, *args: Any, **options: Any) -> Any:
        """Celery's retry, patient with the broker, and never dropping the task. A retry is
        a new message: when it cannot be published (Redis away too), Celery rejects the
        running one without requeueing it, and the event is lost for good. Here the
        publish waits for Redis for about a minute; if it still cannot, the message is
        handed back to the queue (or, with Redis away, left unacknowledged for the broker
        to restore) instead of dropped."""
        options.setdefault("retry", True)
        options.setdefault("retry_policy", PATIENT_PUBLISH)
        try:
            return super().retry(*args, **options)
        except Retry:
            self._requeued()  # published at the back of the queue
            raise
        except Reject as rejected:
            self._requeued()
            if getattr(rejected, "requeue", False):
                raise
            log.error(
                "a retry could not be published; the task is handed back instead",
                extra={"task_id": self.request.id, "task": self.name},
            )
            raise Reject(getattr(rejected, "reason", None), requeue=True) from rejected

    def _requeued(self) -> None:
        """The ledger of sent tasks follows the message to the back of the queue."""
        try:
            ledger.requeued(labstac_app(self.app).redis, [str(self.request.id)])
        except RedisError:
            log.debug("ledger time not renewed (Redis away)", extra={"task_id": self.request.id})

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        self._dead_letter(task_id, args, kwargs, f"{type(exc).__name__}: {exc}")

    def _dead_letter(self, task_id: str, args: Any, kwargs: Any, error: str) -> None:
        letter = dead_letter(self.name, task_id, args=args, kwargs=kwargs, error=error,
                             retries=self.request.retries)  # fmt: skip
        try:
            record_dead_letter(labstac_app(self.app).redis, letter)
        except UpstreamUnavailable:
            # Redis away: the letter goes to the log, the one place left to keep it.
            log.error("dead letter not recorded (Redis away)", extra={"letter": letter})


@task_postrun.connect
def _cross_out(sender: Any = None, task_id: str | None = None, state: str | None = None,
               **_: Any) -> None:  # fmt: skip
    """A task that ran to its end (done, or a dead letter) leaves the ledger of sent tasks;
    one that is retried stays, under the same id."""
    app = getattr(sender, "app", None)
    if not isinstance(app, LabstacCelery) or task_id is None or state not in {"SUCCESS", "FAILURE"}:
        return
    try:
        ledger.done(app.redis, task_id)
    except RedisError:
        # Redis away: the entry stays, and the task may run once more. Never lost.
        log.debug("ledger entry not crossed out", extra={"task_id": task_id})


def labstac_app(app: Celery) -> LabstacCelery:
    """The LabstacCelery a task runs in (tasks are only ever bound to one)."""
    if not isinstance(app, LabstacCelery):
        raise TypeError(f"labstac tasks need a LabstacCelery app, not {type(app).__name__}")
    return app


def _reconnections(seconds: int) -> int:
    """How many reconnections fill ``seconds``: kombu waits 2 s, then 2 s more each time,
    up to 30 s between tries."""
    waited, tries, interval = 0, 0, 2
    while waited < seconds:
        waited += interval
        tries += 1
        interval = min(interval + 2, 30)
    return tries


def create_celery_app(settings: Settings) -> LabstacCelery:
    app = LabstacCelery(settings)
    app.conf.update(
        task_default_queue=settings.task_queue,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        # A task is acknowledged once it has run, and handed back if its worker dies: an
        # event is never lost to a crash. One message at a time per process, so a slow task
        # does not hold others hostage.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=60,
        task_time_limit=90,
        broker_connection_retry_on_startup=True,
        broker_connection_retry=True,
        broker_connection_max_retries=_reconnections(settings.broker_retry_seconds),
        # An enqueue must fail fast when Redis is down, so the hook receiver can spool.
        broker_connection_timeout=2,
        # An unacknowledged task (its worker died) goes back to the queue after this; it
        # must exceed the longest task's time limit, or a slow task would run twice.
        broker_transport_options={
            "visibility_timeout": settings.task_visibility_seconds,
            # Look for such tasks often (one cheap Redis query), so one left by a dead
            # worker is back within about the visibility timeout, not minutes later.
            "unacked_restore_interval": max(1, min(10, settings.task_visibility_seconds // 5)),
            "unacked_restore_throttle": 1,
        },
        # Applied to every task: how often a task is retried before it becomes a dead letter.
        task_annotations={"*": {"max_retries": settings.task_max_retries}},
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        enable_utc=True,
        imports=TASK_MODULES,
        beat_schedule={
            "worker-heartbeat": {
                "task": "labstac.workers.health.heartbeat",
                "schedule": timedelta(seconds=settings.worker_heartbeat_seconds),
                "options": {"expires": settings.worker_heartbeat_seconds},
            },
            # GitLab announces no share, group move or group visibility change: repair them.
            "access-pass": {
                "task": "labstac.workers.index.reconcile",
                "schedule": timedelta(seconds=settings.access_pass_seconds),
                "kwargs": {"access_only": True},
                "options": {"expires": settings.access_pass_seconds},
            },
            "full-reconcile": {
                "task": "labstac.workers.index.reconcile",
                "schedule": timedelta(seconds=settings.reconcile_seconds),
                "options": {"expires": settings.reconcile_seconds},
            },
            **_mlflow_schedule(settings),
        },
    )
    return app


def _mlflow_schedule(settings: Settings) -> dict[str, Any]:
    """MLflow sends no events: its registry is read on a schedule, when there is one."""
    if settings.mlflow_url is None:
        return {}
    return {
        "mlflow-pass": {
            "task": "labstac.workers.mlflow.registry_pass",
            "schedule": timedelta(seconds=settings.mlflow_pass_seconds),
            "options": {"expires": settings.mlflow_pass_seconds},
        }
    }
