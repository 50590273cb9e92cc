"""The ledger of sent tasks: what closes the one gap the broker leaves.

kombu's Redis transport takes a message off the queue (BRPOP) before it records it as
unacknowledged. A worker SIGKILLed between the two loses that message: it is in neither
place, so neither the visibility timeout nor workers.recovery can bring it back, and a
coalesced project's pending marker then swallows its next events too.

So each task labstac sends is written down first (``labstac:sent``: task id -> time sent,
``labstac:sent:task``: task id -> what to send again) and crossed out when it has run
(success, or a dead letter). Every worker's recovery scan looks at the entries older than
``LOST_AFTER_SECONDS``: one that is not unacknowledged (running, or waiting for a retry's
countdown) and not in its queue (sent before the oldest message still waiting there: the
queue is first in, first out) was lost on its way, and is sent again under its own id.
Tasks are idempotent (a project re-read, a reconcile under its lease), so in the rare case
this guesses wrong a task runs twice; it is never lost.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from celery import Celery
from celery.signals import task_postrun
from redis import Redis
from redis.exceptions import RedisError

from workers.app import LabstacCelery

log = logging.getLogger(__name__)

SENT = "labstac:sent"
SENT_TASKS = "labstac:sent:task"
# Far above the moment a lost message stays in flight; the pending marker of a coalesced
# task lasts 120 s, so a lost one is sent again before events stop coalescing into it.
LOST_AFTER_SECONDS = 45
# An entry this old is for a queue nobody consumes any more (renamed, purged).
FORGET_AFTER_SECONDS = 7 * 24 * 3600
SCAN_LIMIT = 500


def send(
    app: Celery,
    redis: Redis,
    queue: str,
    name: str,
    args: Sequence[Any] = (),
    *,
    kwargs: dict[str, Any] | None = None,
    countdown: float | None = None,
) -> str:
    """Write the task down, then send it; returns its id. Raises what Redis or kombu
    raise (the callers translate)."""
    task_id = str(uuid.uuid4())
    what = {"task": name, "args": list(args), "kwargs": kwargs or {}, "queue": queue}
    with redis.pipeline() as pipe:
        pipe.zadd(SENT, {task_id: time.time()})
        pipe.hset(SENT_TASKS, task_id, json.dumps(what))
        pipe.execute()
    app.send_task(name, args=tuple(args), kwargs=kwargs or {}, queue=queue, task_id=task_id,
                  countdown=countdown, retry=False)  # fmt: skip
    return task_id


def done(redis: Redis, task_id: str) -> None:
    with redis.pipeline() as pipe:
        pipe.zrem(SENT, task_id)
        pipe.hdel(SENT_TASKS, task_id)
        pipe.execute()


def resend_lost(app: Celery, redis: Redis, now: float | None = None) -> int:
    """Send again the tasks lost between the queue and a worker; returns how many."""
    now = time.time() if now is None else now
    forgotten: list[Any] = redis.zrangebyscore(SENT, 0, now - FORGET_AFTER_SECONDS)
    for task_id in forgotten:
        done(redis, _text(task_id))
    entries: list[Any] = redis.zrangebyscore(
        SENT, 0, now - LOST_AFTER_SECONDS, start=0, num=SCAN_LIMIT, withscores=True
    )
    overdue = {_text(task_id): float(score) for task_id, score in entries}
    if not overdue:
        return 0
    unacked = _unacknowledged_ids(redis)
    candidates = [task_id for task_id in overdue if task_id not in unacked]
    if not candidates:
        return 0
    whats = dict(zip(candidates, redis.hmget(SENT_TASKS, candidates), strict=True))
    oldest_waiting: dict[str, float | None] = {}
    resent = 0
    for task_id in candidates:
        raw = whats[task_id]
        if raw is None:
            done(redis, task_id)
            continue
        what = json.loads(raw)
        queue = what["queue"]
        if queue not in oldest_waiting:
            oldest_waiting[queue] = _oldest_waiting(redis, queue)
        oldest = oldest_waiting[queue]
        if oldest is not None and overdue[task_id] >= oldest:
            continue  # it may still be waiting in the queue, behind the oldest one
        # One worker sends it again, whichever scans first.
        if not redis.set(f"labstac:resending:{task_id}", "1", nx=True, ex=LOST_AFTER_SECONDS):
            continue
        redis.zadd(SENT, {task_id: now})
        app.send_task(what["task"], args=tuple(what["args"]), kwargs=what["kwargs"],
                      queue=queue, task_id=task_id, retry=False)  # fmt: skip
        resent += 1
    if resent:
        log.warning("tasks lost on their way to a worker sent again", extra={"count": resent})
    return resent


def _unacknowledged_ids(redis: Redis) -> set[str]:
    """Ids of the tasks the broker holds as unacknowledged (kombu's ``unacked`` hash:
    delivery tag -> [message, exchange, routing key])."""
    ids = set()
    for raw in redis.hvals("unacked"):
        try:
            ids.add(str(json.loads(raw)[0]["headers"]["id"]))
        except (ValueError, KeyError, IndexError, TypeError):
            continue
    return ids


def _oldest_waiting(redis: Redis, queue: str) -> float | None:
    """When the oldest message waiting in ``queue`` was sent; None when the queue is empty
    (then nothing older waits either), +inf when that message is not in the ledger (a
    periodic task of beat's: no telling, so nothing is taken for lost this time)."""
    raw = redis.lindex(queue, -1)  # kombu pushes on the left and pops on the right
    if raw is None:
        return None
    try:
        task_id = str(json.loads(raw)["headers"]["id"])
    except (ValueError, KeyError, TypeError):
        return float("inf")
    score = redis.zscore(SENT, task_id)
    return float("inf") if score is None else float(score)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@task_postrun.connect
def _cross_out(sender: Any = None, task_id: str | None = None, state: str | None = None,
               **_: Any) -> None:  # fmt: skip
    """A task that ran to its end (done, or a dead letter) leaves the ledger; one that is
    retried stays, under the same id."""
    app = getattr(sender, "app", None)
    if not isinstance(app, LabstacCelery) or task_id is None or state not in {"SUCCESS", "FAILURE"}:
        return
    try:
        done(app.redis, task_id)
    except RedisError:
        # Redis away: the entry stays, and the task may run once more. Never lost.
        log.debug("ledger entry not crossed out", extra={"task_id": task_id})
