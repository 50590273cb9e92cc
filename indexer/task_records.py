"""What the workers leave in Redis for operators: tasks done and failed per minute, the
dead letters (tasks that failed after their last retry), and the last reconcile of each
kind. ``labstac status`` reads them; ``labstac retry-dead`` replays the dead letters."""

from __future__ import annotations

import json
import time
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from indexer.redis_client import translate

DEAD_LETTERS = "labstac:dead-letters"
DEAD_LETTERS_KEPT = 10_000
_STATS_TTL_SECONDS = 2 * 3600
_DELIVERIES_TTL_SECONDS = 24 * 3600


def _stats_key(outcome: str, minute: int) -> str:
    return f"labstac:task-stats:{outcome}:{minute}"


def stats_keys_last_hour(outcome: str) -> list[str]:
    """The per-minute counters of an outcome over the last hour (API metrics read them too)."""
    now = int(time.time() // 60)
    return [_stats_key(outcome, minute) for minute in range(now - 59, now + 1)]


def count_outcome(redis: Redis, outcome: str) -> None:
    key = _stats_key(outcome, int(time.time() // 60))
    try:
        with redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, _STATS_TTL_SECONDS)
            pipe.execute()
    except RedisError as error:
        raise translate(error) from error


def outcomes_last_hour(redis: Redis, outcome: str) -> int:
    try:
        return sum(int(value) for value in redis.mget(stats_keys_last_hour(outcome)) if value)
    except RedisError as error:
        raise translate(error) from error


def dead_letter(
    task: str, task_id: str, *, args: Any, kwargs: Any, error: str, retries: int
) -> dict[str, Any]:
    """A dead letter as `labstac status` counts it and `labstac retry-dead` replays it."""
    return {"task": task, "args": list(args), "kwargs": dict(kwargs), "task_id": task_id,
            "error": error, "retries": retries}  # fmt: skip


def record_dead_letter(redis: Redis, letter: dict[str, Any]) -> None:
    try:
        with redis.pipeline() as pipe:
            pipe.lpush(DEAD_LETTERS, json.dumps(letter, default=str))
            pipe.ltrim(DEAD_LETTERS, 0, DEAD_LETTERS_KEPT - 1)
            pipe.execute()
    except RedisError as error:
        raise translate(error) from error


def count_delivery(redis: Redis, task_id: str, attempt: int) -> int:
    """How many times this attempt of a task has been handed to a worker, this one included.
    An attempt handed over again is one whose process died under it (acks are late)."""
    key = f"labstac:deliveries:{task_id}:{attempt}"
    try:
        with redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, _DELIVERIES_TTL_SECONDS)
            count, _ = pipe.execute()
    except RedisError as error:
        raise translate(error) from error
    return int(count)


def dead_letter_count(redis: Redis) -> int:
    try:
        return int(redis.llen(DEAD_LETTERS))
    except RedisError as error:
        raise translate(error) from error


def pop_dead_letter(redis: Redis) -> dict[str, Any] | None:
    """The oldest dead letter, taken off the list."""
    try:
        raw = redis.rpop(DEAD_LETTERS)
    except RedisError as error:
        raise translate(error) from error
    if not isinstance(raw, str):
        return None
    letter: dict[str, Any] = json.loads(raw)
    return letter


def push_back_dead_letter(redis: Redis, letter: dict[str, Any]) -> None:
    """Put a letter back at the oldest end (a replay that could not be sent)."""
    try:
        redis.rpush(DEAD_LETTERS, json.dumps(letter, default=str))
    except RedisError as error:
        raise translate(error) from error


def record_reconcile(redis: Redis, kind: str, outcome: dict[str, Any]) -> None:
    entry = {**outcome, "at": time.time()}
    try:
        redis.set(f"labstac:last-reconcile:{kind}", json.dumps(entry))
    except RedisError as error:
        raise translate(error) from error


def last_reconcile(redis: Redis, kind: str) -> dict[str, Any] | None:
    try:
        raw = redis.get(f"labstac:last-reconcile:{kind}")
    except RedisError as error:
        raise translate(error) from error
    return json.loads(raw) if raw else None
