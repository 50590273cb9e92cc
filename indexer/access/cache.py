"""The callers' cache in Redis, in front of the membership resolver.

    labstac:token:<sha256 of the token>   the token's user and scopes   (short TTL)
    labstac:token:<sha256>                "invalid" for a refused token  (10 s)
    labstac:memberships:<user id>         the user's direct memberships (longer TTL)
    labstac:user-tokens:<user id>         the token hashes seen for that user
    labstac:unknown-tokens:<address>:<minute>   tokens GitLab refused, per client address
    labstac:user-gen:<user id>            bumped by every forget_user

A user's memberships resolved from GitLab are stored only if the user's generation is still
the one read before asking GitLab: a resolution that started before a membership hook's
forget_user (the removed member's old view) is never stored after it.

A token is only ever stored as its SHA-256. ``forget_user`` drops a user's memberships and
token entries at once (the membership hooks call it), so the next request sees the change.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import time
from collections import OrderedDict

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from indexer.access.callers import Memberships, Principal, TokenUser
from indexer.access.memberships import MembershipResolver
from indexer.errors import TooManyRequests, Unauthorized
from indexer.redis_client import translate

log = logging.getLogger(__name__)

INVALID = "invalid"
INVALID_TTL_SECONDS = 10
# A caller's two entries in one round trip: the token's, then, for a user, the memberships
# of the user it names. (It reads a key it derives, which a Redis Cluster would refuse;
# labstac uses one Redis.)
READ_ENTRIES = """
local token = redis.call('GET', KEYS[1])
if not token or token == ARGV[2] then return {token} end
local ok, user = pcall(cjson.decode, token)
if not ok or type(user) ~= 'table' or user['acts_as_admin'] then return {token} end
return {token, redis.call('GET', ARGV[1] .. string.format('%d', user['user_id']))}
"""
# Decoded membership lists kept in memory, keyed by their cached JSON: Redis stays the
# source of truth (every request still reads it), only the decoding is skipped.
DECODED_MEMBERSHIPS = 256


def token_key(token: str) -> str:
    return f"labstac:token:{hashlib.sha256(token.encode()).hexdigest()}"


MEMBERSHIPS_PREFIX = "labstac:memberships:"


def memberships_key(user_id: int) -> str:
    return f"{MEMBERSHIPS_PREFIX}{user_id}"


def user_tokens_key(user_id: int) -> str:
    return f"labstac:user-tokens:{user_id}"


def generation_key(user_id: int) -> str:
    return f"labstac:user-gen:{user_id}"


# Store a user's memberships only if no forget_user came since the generation was read.
STORE_IF_CURRENT = """
local generation = redis.call('GET', KEYS[2]) or '0'
if generation ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""
# Generations outlive any cached entry they guard.
GENERATION_TTL_SECONDS = 7 * 86_400


def forget_user(redis: Redis, user_id: int) -> int:
    """Drop everything cached about a user, and bump their generation so that a resolution
    already under way is not stored; returns how many entries went."""
    try:
        token_keys = list(redis.smembers(user_tokens_key(user_id)))
        with redis.pipeline() as pipe:
            pipe.incr(generation_key(user_id))
            pipe.expire(generation_key(user_id), GENERATION_TTL_SECONDS)
            pipe.delete(memberships_key(user_id), user_tokens_key(user_id), *token_keys)
            _, _, dropped = pipe.execute()
        return int(dropped)
    except RedisError as error:
        raise translate(error) from error


class CachedPrincipals:
    """Principals for tokens, from the cache when it can, from GitLab when it must."""

    def __init__(
        self,
        redis: AsyncRedis,
        resolver: MembershipResolver,
        *,
        token_ttl: int,
        membership_ttl: int,
        unknown_tokens_per_minute: int = 30,
    ) -> None:
        self._redis = redis
        self._resolver = resolver
        self._token_ttl = token_ttl
        self._membership_ttl = membership_ttl
        self._unknown_per_minute = unknown_tokens_per_minute
        self._decoded: OrderedDict[str, Memberships] = OrderedDict()
        self._read_entries = redis.register_script(READ_ENTRIES)
        self._store_if_current = redis.register_script(STORE_IF_CURRENT)

    async def principal(self, token: str | None, client: str = "unknown") -> Principal:
        """The caller behind ``token``; ``client`` is the address it came from, which may
        only send so many tokens GitLab refuses a minute (each costs a GitLab call)."""
        if not token:
            return Principal.anonymous()
        cached_user, cached_memberships = await self._cached_entries(token)
        user = await self._token_user(token, cached_user, client)
        if not user.can_read:
            return Principal.anonymous()
        if user.acts_as_admin:
            return Principal("admin", user, fingerprint="admin")
        if cached_memberships:
            digest, memberships = self._decode(cached_memberships)
        else:
            digest, memberships = await self._memberships(user.user_id)
        # What the filter depends on: external or not, and the memberships (by a digest,
        # since a user in thousands of projects has a long list).
        fingerprint = f"user:{user.external}:{digest}"
        return Principal("user", user, memberships, fingerprint=fingerprint)

    async def _cached_entries(self, token: str) -> tuple[str | None, str | None]:
        """The token's cached entry and, for a known user, their cached memberships."""
        try:
            found = await self._read_entries(
                keys=[token_key(token)], args=[MEMBERSHIPS_PREFIX, INVALID]
            )
        except RedisError as error:
            raise translate(error) from error
        # An absent entry comes back short or as None: pad to two.
        values = [None if v is None else str(v) for v in found or []] + [None, None]
        return values[0], values[1]

    async def _token_user(self, token: str, cached: str | None, client: str) -> TokenUser:
        key = token_key(token)
        if cached == INVALID:
            raise Unauthorized("the GitLab token is unknown, expired or revoked")
        if cached:
            return TokenUser.from_json(json.loads(cached))
        # Each lookup of a token not seen yet takes a slot of its address's minute first
        # (so a burst of them cannot all pass a check before any is counted), and gives
        # it back when the token turns out to be GitLab's.
        slot = await self._take_unknown_slot(client)
        try:
            user = await self._resolver.token_user(token)
        except Unauthorized:
            # A burst of requests with a bad token must not become a burst of GitLab calls.
            await self._store(key, INVALID, INVALID_TTL_SECONDS)
            raise
        except Exception:
            await self._give_back(slot)  # GitLab could not tell: not the token's fault
            raise
        await self._give_back(slot)
        if self._token_ttl:
            try:
                async with self._redis.pipeline() as pipe:
                    pipe.set(key, json.dumps(user.to_json()), ex=self._token_ttl)
                    pipe.sadd(user_tokens_key(user.user_id), key)
                    pipe.expire(user_tokens_key(user.user_id), max(self._token_ttl, 3600))
                    await pipe.execute()
            except RedisError as error:
                raise translate(error) from error
        return user

    async def _take_unknown_slot(self, client: str) -> str:
        now = time.time()
        key = f"labstac:unknown-tokens:{_bucket(client)}:{int(now // 60)}"
        try:
            async with self._redis.pipeline() as pipe:
                pipe.incr(key)
                pipe.expire(key, 120)
                taken, _ = await pipe.execute()
        except RedisError as error:
            raise translate(error) from error
        if int(taken) > self._unknown_per_minute:
            raise TooManyRequests(
                "too many unknown tokens from this address; try again in a minute",
                60 - int(now % 60),
            )
        return key

    async def _give_back(self, slot: str) -> None:
        try:
            await self._redis.decr(slot)
        except RedisError as error:
            raise translate(error) from error

    async def _memberships(self, user_id: int) -> tuple[str, Memberships]:
        """The digest of the memberships' cached JSON, and the memberships."""
        key = memberships_key(user_id)
        try:
            cached, generation = await self._redis.mget(key, generation_key(user_id))
        except RedisError as error:
            raise translate(error) from error
        if cached:
            return self._decode(str(cached))
        memberships = await self._resolver.memberships(user_id)
        raw = json.dumps(memberships.to_json())
        if self._membership_ttl:
            try:
                await self._store_if_current(
                    keys=[key, generation_key(user_id)],
                    args=[str(generation or "0"), raw, self._membership_ttl],
                )
            except RedisError as error:
                raise translate(error) from error
        return _digest(raw), memberships

    def _decode(self, raw: str) -> tuple[str, Memberships]:
        """The digest of the cached JSON, and the memberships it holds."""
        key = _digest(raw)
        memberships = self._decoded.get(key)
        if memberships is None:
            memberships = Memberships.from_json(json.loads(raw))
            self._decoded[key] = memberships
            if len(self._decoded) > DECODED_MEMBERSHIPS:
                self._decoded.popitem(last=False)
        else:
            self._decoded.move_to_end(key)
        return key, memberships

    async def _store(self, key: str, value: str, ttl: int) -> None:
        try:
            await self._redis.set(key, value, ex=ttl)
        except RedisError as error:
            raise translate(error) from error


def _bucket(client: str) -> str:
    """Whose tokens count together: one IPv4 address, or one IPv6 /64 (what one host or
    site holds, and could rotate through)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client[:64]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _digest(raw: str) -> str:
    return hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()
