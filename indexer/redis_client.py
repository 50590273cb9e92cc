"""Redis connections (broker, caches, the event counter) and the translation of redis-py
errors into ``indexer.errors``."""

from __future__ import annotations

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from indexer.errors import UpstreamUnavailable
from indexer.settings import Settings

SERVICE = "redis"
_TIMEOUT_SECONDS = 5.0
# Retry a dropped connection briefly, then fail: callers have a plan for Redis being down
# (the hook receiver spools), and a request must not hang on it.
_RETRIES = 2
_BACKOFF = ExponentialBackoff(cap=0.2, base=0.02)


def create_redis(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.redis_url_str,
        socket_timeout=_TIMEOUT_SECONDS,
        socket_connect_timeout=_TIMEOUT_SECONDS,
        decode_responses=True,
        retry=Retry(_BACKOFF, _RETRIES),
    )


def create_async_redis(settings: Settings) -> AsyncRedis:
    return AsyncRedis.from_url(
        settings.redis_url_str,
        socket_timeout=_TIMEOUT_SECONDS,
        socket_connect_timeout=_TIMEOUT_SECONDS,
        decode_responses=True,
        retry=AsyncRetry(_BACKOFF, _RETRIES),
    )


def translate(error: RedisError) -> UpstreamUnavailable:
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        return UpstreamUnavailable(SERVICE, "not reachable")
    return UpstreamUnavailable(SERVICE, type(error).__name__)


async def ping(redis: AsyncRedis) -> None:
    try:
        await redis.ping()
    except RedisError as error:
        raise translate(error) from error


def queue_depth(redis: Redis, queue: str) -> int:
    """Tasks waiting in a Celery queue (the Redis transport keeps each queue as a list)."""
    try:
        return int(redis.llen(queue))
    except RedisError as error:
        raise translate(error) from error
