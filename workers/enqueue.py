"""Putting tasks on the queue, with coalescing: while a project's re-index is waiting in
the queue, more events for that project add nothing (the waiting run will read the newest
state anyway). The task drops its marker when it starts, so an event during a run queues
exactly one more. A burst of 100 pushes costs at most two runs.

That holds only if the one more waits for the run to end. With several threads or hosts, it
would start at once beside the run, drop the marker, and let the next event queue another:
one run per event. So a project's runs take turns across every worker (a lease per project,
``project_turn``); a task that finds the project's run in progress does not run beside it
but stays the pending one (``still_pending``: its marker kept, so events keep coalescing
into it) and comes back a moment later, as a new message (``TURN_WAIT_SECONDS``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from celery import Celery
from redis import Redis
from redis.exceptions import RedisError

from indexer.errors import UpstreamUnavailable
from indexer.lease import Lease
from indexer.redis_client import translate
from workers import ledger
from workers.events import (
    DELETE_PROJECT,
    INDEX_PROJECT,
    REFRESH_GROUP,
    REFRESH_USER,
    PlannedTask,
)

# A marker outlives a lost task by this much at most: then events enqueue again. The tasks
# of a dead worker come back within seconds (workers.recovery), so two minutes is plenty;
# a queue longer than that costs at most a duplicate run.
PENDING_TTL_SECONDS = 120
# How long a run that found its project's run in progress waits before it tries again.
TURN_WAIT_SECONDS = 1.0
_COALESCED = {
    INDEX_PROJECT: "project", DELETE_PROJECT: "project", REFRESH_GROUP: "group",
    REFRESH_USER: "user",
}  # fmt: skip


def pending_key(name: str, args: Sequence[int]) -> str | None:
    kind = _COALESCED.get(name)
    return f"labstac:pending:{kind}:{args[0]}" if kind and args else None


@dataclass(frozen=True)
class Enqueued:
    sent: int
    coalesced: int


def enqueue(app: Celery, redis: Redis, queue: str, tasks: Sequence[PlannedTask]) -> Enqueued:
    """Raises ``UpstreamUnavailable`` when Redis cannot take them (the caller spools)."""
    sent = coalesced = 0
    try:
        for task in tasks:
            key = pending_key(task.name, task.args)
            if key is not None and not redis.set(key, "1", nx=True, ex=PENDING_TTL_SECONDS):
                coalesced += 1
                continue
            ledger.send(app, redis, queue, task.name, task.args)
            sent += 1
    except Exception as error:  # kombu and redis raise several unrelated types here
        raise UpstreamUnavailable("redis", f"enqueue failed: {type(error).__name__}") from error
    return Enqueued(sent, coalesced)


def started(redis: Redis, name: str, args: Sequence[int]) -> None:
    """Called first thing by a coalesced task: events from now on need a new run."""
    key = pending_key(name, args)
    if key is not None:
        try:
            redis.delete(key)
        except RedisError as error:
            raise translate(error) from error  # transient: the task is retried


def project_turn(redis: Redis, project_id: int, task_id: str) -> Lease:
    """The lease one run of a project holds across all workers (``acquire`` says whether
    it is this run's turn; a dead holder's expires within 30 s). It is held under the task's
    id: the same task, handed back after its process died, takes it back at once, so that
    its deliveries are counted (a task that kills its process three times is a dead letter)
    instead of deferred under new ids for as long as its own dead run's lease lasts."""
    return Lease(redis, f"project-run:{project_id}", holder=task_id)


def still_pending(app: Celery, redis: Redis, queue: str, task: PlannedTask) -> None:
    """A coalesced task whose project's run is in progress waits its turn: it keeps its
    marker (events meanwhile need no task of their own) and is sent again, to run once the
    run in progress is over. Raises ``UpstreamUnavailable`` (the task is retried)."""
    key = pending_key(task.name, task.args)
    try:
        if key is not None:
            redis.set(key, "1", ex=PENDING_TTL_SECONDS)
        ledger.send(app, redis, queue, task.name, task.args, countdown=TURN_WAIT_SECONDS)
    except Exception as error:  # kombu and redis raise several unrelated types here
        raise UpstreamUnavailable("redis", f"enqueue failed: {type(error).__name__}") from error
