"""The callers' cache on real Redis, in front of the resolver talking to the simulated
GitLab: a second request costs no GitLab call, forget_user shows a membership change at
once, a revoked or expired token stops working after the token TTL, and no token is ever
stored in clear."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from support import REDIS_HOST_URL, REDIS_TEST_DB

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import REPORTER, Membership, Token, World
from indexer.access.cache import CachedPrincipals, forget_user
from indexer.access.callers import Principal
from indexer.access.memberships import MembershipResolver
from indexer.errors import Unauthorized
from indexer.gitlab.async_client import GitLabHttp

pytestmark = pytest.mark.services
T = TypeVar("T")
TOKEN_TTL = 2


@pytest.fixture
def world() -> World:
    return generate(seed=21, users=20, groups=12, projects=40)


@pytest.fixture
def sim(world: World) -> Iterator[SimulatorServer]:
    with SimulatorServer(world) as server:
        yield server


def member_token(world: World) -> Token:
    return next(
        t for t in world.tokens
        if t.name == "main" and not world.user_by_id[t.user_id].is_admin
        and world.user_by_id[t.user_id].state == "active" and not t.revoked
    )  # fmt: skip


def admin_token(world: World) -> str:
    return world.token_named(1).token


def run(sim: SimulatorServer, action: Callable[[CachedPrincipals], Awaitable[T]]) -> T:
    """Runs one request's worth of work with a fresh client stack, as an API worker would."""

    async def body() -> T:
        redis = AsyncRedis.from_url(f"{REDIS_HOST_URL}/{REDIS_TEST_DB}", decode_responses=True)
        http = GitLabHttp(sim.url, timeout_seconds=10)
        principals = CachedPrincipals(
            redis,
            MembershipResolver(http, admin_token(sim.world)),
            token_ttl=TOKEN_TTL,
            membership_ttl=300,
        )
        try:
            return await action(principals)
        finally:
            await http.close()
            await redis.aclose()

    return asyncio.run(body())


def principal(sim: SimulatorServer, token: str | None) -> Principal:
    return run(sim, lambda principals: principals.principal(token))


def test_a_second_request_costs_no_gitlab_call(sim: SimulatorServer, redis_client: Redis) -> None:
    token = member_token(sim.world)
    first = principal(sim, token.token)
    calls = sim.app.stats.total()
    assert calls >= 3  # token, user, memberships
    second = principal(sim, token.token)
    assert sim.app.stats.total() == calls
    assert second == first
    assert first.user is not None and first.user.user_id == token.user_id
    assert second.fingerprint == first.fingerprint  # so the API reuses the built filter


def test_forget_user_shows_a_membership_change_at_once(
    sim: SimulatorServer, redis_client: Redis
) -> None:
    world = sim.world
    token = member_token(world)
    before = principal(sim, token.token)
    new_group = next(g for g in world.groups if g.id not in before.memberships.groups)
    world.memberships.append(Membership(token.user_id, "group", new_group.id, REPORTER))
    world.changed()
    assert new_group.id not in principal(sim, token.token).memberships.groups  # still cached

    assert forget_user(redis_client, token.user_id) >= 2
    after = principal(sim, token.token)
    assert after.memberships.groups[new_group.id] == REPORTER
    # A memoized access filter cannot outlive the change: the fingerprint changed with it.
    assert after.fingerprint != before.fingerprint


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_a_dead_token_is_refused_after_the_token_ttl(
    sim: SimulatorServer, redis_client: Redis, how: str
) -> None:
    world = sim.world
    token = member_token(world)
    assert principal(sim, token.token).kind == "user"
    if how == "revoked":
        token.revoked = True
    else:
        token.expires_at = world.today().isoformat()
    world.changed()
    assert principal(sim, token.token).kind == "user"  # within the TTL
    time.sleep(TOKEN_TTL + 0.5)
    with pytest.raises(Unauthorized):
        principal(sim, token.token)
    calls = sim.app.stats.total()
    with pytest.raises(Unauthorized):  # refused from the cache, not asked again
        principal(sim, token.token)
    assert sim.app.stats.total() == calls


def test_tokens_are_never_stored_in_clear(sim: SimulatorServer, redis_client: Redis) -> None:
    tokens = [member_token(sim.world).token, "glpat-not-a-real-token-at-all"]
    principal(sim, tokens[0])
    with pytest.raises(Unauthorized):
        principal(sim, tokens[1])
    stored = []
    for key in redis_client.scan_iter("*"):
        stored.append(key)
        if redis_client.type(key) == "string":
            stored.append(str(redis_client.get(key)))
        elif redis_client.type(key) == "set":
            stored.extend(redis_client.smembers(key))
    assert stored
    for token in tokens:
        assert not any(token in entry for entry in stored)


def test_anonymous_and_unreadable_tokens_cost_nothing_extra(
    sim: SimulatorServer, redis_client: Redis
) -> None:
    assert principal(sim, None) == Principal.anonymous()
    assert sim.app.stats.total() == 0
    read_user = next(
        t
        for t in sim.world.tokens
        if t.scopes == ["read_user"] and sim.world.user_by_id[t.user_id].state == "active"
    )
    assert principal(sim, read_user.token).kind == "anonymous"
    assert "GET /users/:user/memberships" not in sim.app.stats.calls
