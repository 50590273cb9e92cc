"""The one monotonic counter behind every write's external version. A worker takes a value
*before* it reads GitLab, so whichever read is newer wins in the index, whatever order the
writes land in."""

from __future__ import annotations

from redis import Redis
from redis.exceptions import RedisError

from indexer.redis_client import translate

COUNTER_KEY = "labstac:version"


def take_version(redis: Redis) -> int:
    try:
        return int(redis.incr(COUNTER_KEY))
    except RedisError as error:
        raise translate(error) from error
