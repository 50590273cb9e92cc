"""Handing back the tasks of a worker that died, in seconds rather than after the broker's
visibility timeout.

Tasks are acknowledged after they run, so a task held by a worker that dies stays in the
broker's ``unacked`` hash; kombu puts it back in the queue only once it is older than the
visibility timeout (900 s by default, above the longest task, so that a slow task is never
run twice). That left the index 15 minutes behind GitLab after any crash. Instead:

- each worker says it is alive: ``labstac:alive:<worker>``, a key that expires 15 s after
  its last renewal (every 5 s, by a thread of the worker's main process);
- each task a worker receives is recorded as held by it: ``labstac:held`` maps the
  message's delivery tag to the worker;
- every 10 s (and at start) each worker looks at the held tasks: those still unacknowledged
  whose worker is no longer alive are put back at the head of the queue, once (the broker's
  own transaction makes a second restore of the same message a no-op); records of
  acknowledged tasks are dropped;
- a worker also takes back what it holds itself but no longer runs: a task whose ending
  could not reach Redis (away at the time) is neither acknowledged nor requeued, and would
  otherwise wait for the visibility timeout, its worker being alive.

A worker that is alive keeps its tasks however long they run; one that died loses them
within about 25 s. A message a worker died taking (off the queue, not yet unacknowledged)
is in neither place: the same scan sends it again from the ledger of sent tasks
(workers.ledger). Names of workers must be unique (Celery requires it anyway).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Celery
from celery.signals import task_received, worker_init, worker_shutdown
from celery.worker import state as worker_state
from redis import Redis
from redis.exceptions import RedisError

from workers import ledger
from workers.app import LabstacCelery

log = logging.getLogger(__name__)

HELD = "labstac:held"
ALIVE_SECONDS = 15
BEAT_SECONDS = 5
SCAN_EVERY_BEATS = 2
# A task of this worker's own, not in flight for this long, lost its ending.
STRAY_SECONDS = 30
# A delivery nobody recorded, unacknowledged for this long, is nobody's.
UNRECORDED_SECONDS = 60
_stopping = threading.Event()


def alive_key(worker: str) -> str:
    return f"labstac:alive:{worker}"


def declare_alive(redis: Redis, worker: str) -> None:
    redis.set(alive_key(worker), "1", ex=ALIVE_SECONDS)


def hand_back_orphans(
    app: Celery, redis: Redis, me: str = "", running: frozenset[str] = frozenset()
) -> int:
    """Put the unacknowledged tasks of dead workers back in their queue, and those of
    ``me`` (this worker) that it does not run (``running``: its delivery tags in flight)
    any more; returns how many."""
    now = time.time()
    held: dict[str, tuple[str, float]] = {}
    for tag, value in redis.hgetall(HELD).items():
        worker, _, since = _text(value).rpartition(" ")
        held[_text(tag)] = (worker, float(since) if since else now)
    tags = list(held)
    pending = redis.hmget("unacked", tags) if tags else []
    workers = sorted({worker for worker, _ in held.values()})
    alive = (
        dict(zip(workers, redis.mget([alive_key(w) for w in workers]), strict=True))
        if workers
        else {}
    )

    def orphaned(tag: str) -> bool:
        worker, since = held[tag]
        if not alive[worker]:
            return True
        # Received a while ago, and not in flight here: its ending was lost.
        return worker == me and tag not in running and now - since > STRAY_SECONDS

    orphans = [tag for tag, raw in zip(tags, pending, strict=True) if raw and orphaned(tag)]
    done = [tag for tag, raw in zip(tags, pending, strict=True) if not raw]
    # Delivered while Redis could not record who took them (it went away just then), and
    # still unacknowledged long after: nobody knows they run, so they are handed back.
    stale: list[str] = [
        str(tag) for tag in redis.zrangebyscore("unacked_index", 0, now - UNRECORDED_SECONDS)
    ]
    unrecorded = [tag for tag in stale if tag not in held and tag not in running]
    orphans += unrecorded
    if orphans:
        messages = redis.hmget("unacked", orphans)
        with app.connection_for_write() as connection:
            qos = connection.default_channel.qos  # type: ignore[attr-defined]  # Redis
            for tag in orphans:
                qos.restore_by_tag(tag, leftmost=True)
        # Back in the queue, behind what waits there: the ledger's times follow.
        ledger.requeued(redis, ledger.task_ids(messages))
        log.warning(
            "tasks of dead workers, or whose ending was lost, handed back",
            extra={
                "count": len(orphans),
                "workers": sorted({held[t][0] for t in orphans if t in held}),
            },
        )
    if orphans or done:
        redis.hdel(HELD, *orphans, *done)  # an unrecorded tag is not there: no harm
    return len(orphans)


def _in_flight() -> frozenset[str]:
    """Delivery tags of the tasks this worker has received and not finished (running,
    waiting for a thread, or waiting for their time: a retry's countdown)."""
    requests = [
        *worker_state.reserved_requests,
        *worker_state.active_requests,
        *getattr(worker_state, "scheduled_requests", ()),
    ]
    return frozenset(
        str(tag)
        for tag in (getattr(getattr(r, "message", None), "delivery_tag", None) for r in requests)
        if tag is not None
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@task_received.connect
def _record_held(sender: Any = None, request: Any = None, **_: Any) -> None:
    app = getattr(getattr(request, "task", None), "app", None)
    tag = getattr(getattr(request, "message", None), "delivery_tag", None)
    if not isinstance(app, LabstacCelery) or tag is None:
        return
    worker = str(request.hostname)
    try:
        with app.redis.pipeline() as pipe:
            pipe.set(alive_key(worker), "1", ex=ALIVE_SECONDS)
            pipe.hset(HELD, str(tag), f"{worker} {time.time():.0f}")
            pipe.execute()
    except RedisError:
        # The broker is away too: the task will come back by the visibility timeout.
        log.debug("could not record a held task", extra={"task_id": request.id})


@worker_init.connect
def _start_beating(sender: Any = None, **_: Any) -> None:
    app = getattr(sender, "app", None)
    if not isinstance(app, LabstacCelery):
        return
    worker = str(sender.hostname)
    _stopping.clear()
    threading.Thread(target=_beat, args=(app, worker), name="labstac-alive", daemon=True).start()


@worker_shutdown.connect
def _stop_beating(sender: Any = None, **_: Any) -> None:
    _stopping.set()


def _beat(app: LabstacCelery, worker: str) -> None:
    beats = 0
    while not _stopping.is_set():
        try:
            declare_alive(app.redis, worker)
            if beats % SCAN_EVERY_BEATS == 0:
                hand_back_orphans(app, app.redis, worker, _in_flight())
                ledger.resend_lost(app, app.redis)
        except Exception as error:  # Redis away, or the broker connection: next beat
            log.debug("alive beat failed: %s", type(error).__name__)
        beats += 1
        _stopping.wait(BEAT_SECONDS)
