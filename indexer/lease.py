"""Leases: locks that free themselves soon after their holder is gone.

A lock with a long expiry outlives a crashed holder by that long (a reindex that died left
"another reindex is running" for six hours); one with a short expiry expires under a holder
that is merely slow. A lease is short (30 s) and renewed by a thread of its holder every
10 s while the holder works: a dead holder frees it within 30 s, a slow one keeps it. When a
renewal finds the lease gone or taken (Redis lost it, or it expired while Redis was away),
``lost`` is set, and the holder should stop: another may have started meanwhile.
"""

from __future__ import annotations

import logging
import threading
import uuid
from types import TracebackType

from redis import Redis
from redis.exceptions import RedisError

from indexer.redis_client import translate

log = logging.getLogger(__name__)

LEASE_SECONDS = 30
RENEW_SECONDS = 10
# Renew only if still ours: compare and extend in one step.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease:
    def __init__(
        self, redis: Redis, name: str, seconds: int = LEASE_SECONDS, holder: str | None = None
    ) -> None:
        """``holder`` names who holds it (a task id): the same holder may take the lease
        back while it is still held under its name (a task redelivered after its process
        died must not wait for its own dead run's lease). Unnamed, every holder is new."""
        self.key = f"labstac:lease:{name}"
        self._redis = redis
        self._seconds = seconds
        self._token = holder or uuid.uuid4().hex
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost = threading.Event()

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; renew it from then on until ``release``."""
        try:
            taken = bool(self._redis.set(self.key, self._token, nx=True, ex=self._seconds)) or (
                bool(self._redis.eval(_RENEW, 1, self.key, self._token, self._seconds * 1000))
            )
        except RedisError as error:
            raise translate(error) from error
        if taken:
            self._renewer = threading.Thread(
                target=self._renew, name=f"lease-{self.key}", daemon=True
            )
            self._renewer.start()
        return taken

    def held(self) -> bool:
        """Whether someone holds the lease now (this holder or another)."""
        try:
            return bool(self._redis.exists(self.key))
        except RedisError as error:
            raise translate(error) from error

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(5)
        try:
            self._redis.eval(_RELEASE, 1, self.key, self._token)
        except RedisError:
            log.warning("lease not released; it expires in %d s", self._seconds)

    def _renew(self) -> None:
        interval = min(RENEW_SECONDS, max(1, self._seconds // 3))
        while not self._stop.wait(interval):
            try:
                renewed = self._redis.eval(
                    _RENEW, 1, self.key, self._token, str(self._seconds * 1000)
                )
            except RedisError:
                continue  # Redis away: the lease may still stand; try again
            if not renewed:
                log.error("lease lost", extra={"lease": self.key})
                self.lost.set()
                return

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def lease_held(redis: Redis, name: str) -> bool:
    """Whether anyone holds the lease ``name`` now."""
    try:
        return bool(redis.exists(f"labstac:lease:{name}"))
    except RedisError as error:
        raise translate(error) from error
