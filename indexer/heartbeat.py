"""Worker heartbeats: each worker records when it last ran its heartbeat task, so that
``labstac status`` and the operators can tell a live worker from a dead one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError

from indexer.redis_client import translate

HEARTBEATS_KEY = "labstac:workers:heartbeat"
# A worker silent for a day is gone; forget it rather than list it forever.
_FORGET_AFTER_SECONDS = 86_400


@dataclass(frozen=True)
class Heartbeat:
    worker: str
    at: datetime

    def age_seconds(self, now: datetime) -> float:
        return (now - self.at).total_seconds()


def record_heartbeat(redis: Redis, worker: str, now: datetime | None = None) -> Heartbeat:
    at = now or datetime.now(UTC)
    try:
        with redis.pipeline() as pipe:
            pipe.zadd(HEARTBEATS_KEY, {worker: at.timestamp()})
            pipe.zremrangebyscore(HEARTBEATS_KEY, 0, at.timestamp() - _FORGET_AFTER_SECONDS)
            pipe.execute()
    except RedisError as error:
        raise translate(error) from error
    return Heartbeat(worker=worker, at=at)


def read_heartbeats(redis: Redis) -> list[Heartbeat]:
    """Every known worker, most recently seen first."""
    try:
        entries: list[tuple[str, float]] = redis.zrevrange(  # type: ignore[assignment]
            HEARTBEATS_KEY, 0, -1, withscores=True
        )
    except RedisError as error:
        raise translate(error) from error
    return [
        Heartbeat(worker=str(worker), at=datetime.fromtimestamp(float(score), UTC))
        for worker, score in entries
    ]
