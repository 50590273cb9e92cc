"""Putting tasks on the queue, with coalescing: while a project's re-index is waiting in
the queue, more events for that project add nothing (the waiting run will read the newest
state anyway). The task drops its marker when it starts, so an event during a run queues
exactly one more. A burst of 100 pushes costs at most two runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from celery import Celery
from redis import Redis
from redis.exceptions import RedisError

from indexer.errors import UpstreamUnavailable
from indexer.redis_client import translate
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
            app.send_task(task.name, args=task.args, queue=queue, retry=False)
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
