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
A message that goes back to the queue (a retry, a hand-back, a requeue) takes a new time,
so that the times keep the queue's order, and a task must look lost on two scans at least
10 s apart before it is sent again (one message popped between a scan's two reads looks
lost once). Times are Redis's own clock. A task sent again ``MAX_RESENDS`` times without
ever running to its end (its name unknown to the workers, say) becomes a dead letter.
Tasks are idempotent (a project re-read, a reconcile under its lease), so a wrong guess
costs a task run twice; never a lost one.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from celery import Celery
from redis import Redis

from indexer.task_records import dead_letter, record_dead_letter

log = logging.getLogger(__name__)

SENT = "labstac:sent"
SENT_TASKS = "labstac:sent:task"
# Far above the moment a lost message stays in flight; the pending marker of a coalesced
# task lasts 120 s, so a lost one is sent again before events stop coalescing into it.
LOST_AFTER_SECONDS = 45
# An entry this old is for a queue nobody consumes any more (renamed, purged).
FORGET_AFTER_SECONDS = 7 * 24 * 3600
SCAN_LIMIT = 500
# Seen lost on a scan, then again this much later: lost.
CONFIRM_SECONDS = 10
MAX_RESENDS = 3
# Written down (and times taken) by Redis in one step, with its clock: the hosts' clocks
# may disagree.
_WRITE_DOWN = """
local now = redis.call('TIME')
local at = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZADD', KEYS[1], at, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
"""
_REQUEUED = """
local now = redis.call('TIME')
local at = tonumber(now[1]) + tonumber(now[2]) / 1000000
for _, id in ipairs(ARGV) do redis.call('ZADD', KEYS[1], 'XX', at, id) end
return #ARGV
"""


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
    redis.eval(_WRITE_DOWN, 2, SENT, SENT_TASKS, task_id, json.dumps(what))
    _publish(app, task_id, what, countdown)
    return task_id


def _publish(app: Celery, task_id: str, what: dict[str, Any], countdown: float | None) -> None:
    # Producer retries off: a caller that cannot reach Redis must know at once (to spool).
    app.send_task(what["task"], args=tuple(what["args"]), kwargs=what["kwargs"],
                  queue=what["queue"], task_id=task_id, countdown=countdown,
                  retry=False)  # fmt: skip


def requeued(redis: Redis, task_ids: Sequence[str]) -> None:
    """These tasks' messages went to the back of their queue again: their time is now."""
    if task_ids:
        redis.eval(_REQUEUED, 1, SENT, *task_ids)


def done(redis: Redis, task_id: str) -> None:
    with redis.pipeline() as pipe:
        pipe.zrem(SENT, task_id)
        pipe.hdel(SENT_TASKS, task_id)
        pipe.execute()


def resend_lost(app: Celery, redis: Redis, now: float | None = None) -> int:
    """Send again the tasks lost between the queue and a worker; returns how many."""
    if now is None:
        seconds, micros = redis.time()
        now = seconds + micros / 1_000_000
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
        if not _confirmed(redis, task_id, now):
            continue
        # One worker sends it again, whichever scans first.
        if not redis.set(f"labstac:resending:{task_id}", "1", nx=True, ex=LOST_AFTER_SECONDS):
            continue
        resends = int(what.get("resent", 0)) + 1
        if resends > MAX_RESENDS:
            _give_up(redis, task_id, what)
            continue
        what["resent"] = resends
        with redis.pipeline() as pipe:
            pipe.hset(SENT_TASKS, task_id, json.dumps(what))
            pipe.zadd(SENT, {task_id: now})
            pipe.execute()
        _publish(app, task_id, what, countdown=None)
        resent += 1
    if resent:
        log.warning("tasks lost on their way to a worker sent again", extra={"count": resent})
    return resent


def _confirmed(redis: Redis, task_id: str, now: float) -> bool:
    """Whether the task looked lost on an earlier scan too, CONFIRM_SECONDS ago or more."""
    key = f"labstac:ledger-suspect:{task_id}"
    if redis.set(key, repr(now), nx=True, ex=LOST_AFTER_SECONDS + 6 * CONFIRM_SECONDS):
        return False  # first sighting: look again at the next scan
    seen = redis.get(key)
    if seen is None or now - float(_text(seen)) < CONFIRM_SECONDS:
        return False
    redis.delete(key)
    return True


def _give_up(redis: Redis, task_id: str, what: dict[str, Any]) -> None:
    error = f"sent {MAX_RESENDS} times, never ran to its end"
    letter = dead_letter(what["task"], task_id, args=what["args"], kwargs=what["kwargs"],
                         error=error, retries=0)  # fmt: skip
    record_dead_letter(redis, letter)
    done(redis, task_id)
    log.error("task sent again and again without running: now a dead letter",
              extra={"task_id": task_id, "task": what["task"]})  # fmt: skip


def task_ids(unacked: Sequence[Any]) -> list[str]:
    """The task ids of entries of kombu's ``unacked`` hash (delivery tag -> [message,
    exchange, routing key]); entries gone or unreadable are left out."""
    ids = []
    for raw in unacked:
        try:
            ids.append(str(json.loads(raw)[0]["headers"]["id"]))
        except (ValueError, KeyError, IndexError, TypeError):
            continue
    return ids


def _unacknowledged_ids(redis: Redis) -> set[str]:
    """Ids of the tasks the broker holds as unacknowledged."""
    return set(task_ids(redis.hvals("unacked")))


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
