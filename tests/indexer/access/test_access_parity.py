"""The access promise, proved on real OpenSearch: for 200 generated GitLab worlds, every
project's access fields are read from the simulated GitLab and indexed, every caller is
resolved through GitLab's API, and the ids the access filter matches must be exactly the
projects GitLab's rules (the simulator's oracle) let that caller read. No leak, no miss."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import gitlab
import pytest
from opensearchpy import OpenSearch, helpers

from gitlab_sim.generator import generate
from gitlab_sim.golden import GOLDEN_CASES, golden_world
from gitlab_sim.permissions import Caller, Oracle
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import World
from indexer.access.callers import Principal
from indexer.access.fields import compute_access_fields
from indexer.access.filter import access_filter
from indexer.access.memberships import MembershipResolver
from indexer.errors import Unauthorized
from indexer.gitlab.async_client import GitLabHttp
from indexer.gitlab.reader import GitLabReader

pytestmark = pytest.mark.services

WORLDS = 200
MIN_LEVEL = 20  # labstac's default, GitLab's Reporter


@dataclass
class Check:
    world_key: str
    world: World
    caller: str
    token: str | None
    principal: Principal | None  # None: labstac refuses the token (401)


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer(World()) as server:
        yield server


def admin_token(world: World) -> str:
    # With Admin Mode on, only a token with the admin_mode scope acts as admin.
    admins = [
        t
        for t in world.tokens
        if world.user_by_id[t.user_id].is_admin
        and "admin_mode" in t.scopes
        and world.user_by_id[t.user_id].state == "active"
    ]
    return admins[0].token


def index_world(
    sim: SimulatorServer, client: OpenSearch, index: str, key: str, world: World
) -> None:
    sim.app.world = world
    world.instance_url = sim.url
    world.changed()
    reader = GitLabReader(gitlab.Gitlab(sim.url, private_token=admin_token(world), per_page=100))
    today = world.today()
    actions = []
    for project in world.projects:
        facts = reader.access_facts(reader.project(project.id))
        if not facts.indexable:
            continue
        fields = compute_access_fields(
            facts, reader.group, min_access_level=MIN_LEVEL, today=today, version=1
        )
        actions.append(
            {
                "_index": index,
                "_id": f"{key}:{project.id}",
                "_source": {"doc_key": f"{key}:{project.id}", "collection": key, "_acl": fields},
            }
        )
    helpers.bulk(client, actions)


async def resolve(
    sim: SimulatorServer, world: World, tokens: list[str | None]
) -> list[Principal | None]:
    http = GitLabHttp(sim.url, timeout_seconds=10)
    resolver = MembershipResolver(http, admin_token(world))

    async def one(token: str | None) -> Principal | None:
        try:
            return await resolver.principal(token)
        except Unauthorized:
            return None

    try:
        return list(await asyncio.gather(*(one(token) for token in tokens)))
    finally:
        await http.close()


def matched(client: OpenSearch, index: str, key: str, principal: Principal) -> set[int]:
    query = {"bool": {"filter": [
        {"term": {"collection": key}},
        access_filter(principal, min_access_level=MIN_LEVEL, anonymous_access=True),
    ]}}  # fmt: skip
    result = client.search(index=index, body={"query": query, "size": 10_000, "_source": False})
    return {int(hit["_id"].split(":")[1]) for hit in result["hits"]["hits"]}


def expected(world: World, token: str | None) -> set[int] | None:
    """What GitLab lets this token read; None when GitLab refuses the token itself."""
    if token is None:
        caller = Caller.anonymous()
    else:
        record = world.token_by_value[token]
        user = world.user_by_id[record.user_id]
        if record.revoked or world.expired(record.expires_at) or user.state != "active":
            return None
        caller = Caller.with_token(world, record)
    return Oracle(world, caller).readable_project_ids()


def explain(world: World, token: str | None, project_id: int) -> str:
    caller = Caller.with_token(world, world.token_by_value[token]) if token else Caller.anonymous()
    project = world.project_by_id[project_id]
    rule = Oracle(world, caller).can_read_repository(project).rule
    return f"project {world.project_full_path(project)}: {rule}"


def run_parity(
    sim: SimulatorServer, client: OpenSearch, index: str, worlds: list[tuple[str, World]]
) -> int:
    checks: list[Check] = []
    for key, world in worlds:
        index_world(sim, client, index, key, world)
        tokens: list[str | None] = [None, *(t.token for t in world.tokens)]
        principals = asyncio.run(resolve(sim, world, tokens))
        for token, principal in zip(tokens, principals, strict=True):
            name = (
                "anonymous"
                if token is None
                else (
                    f"{world.user_by_id[world.token_by_value[token].user_id].username}"
                    f"/{world.token_by_value[token].name}"
                )
            )
            checks.append(Check(key, world, name, token, principal))
    client.indices.refresh(index=index)
    compared = 0
    for check in checks:
        want = expected(check.world, check.token)
        if want is None:
            assert check.principal is None, f"{check.world_key} {check.caller}: token accepted"
            continue
        assert check.principal is not None, f"{check.world_key} {check.caller}: token refused"
        got = matched(client, index, check.world_key, check.principal)
        leaks, misses = got - want, want - got
        details = [f"LEAK {explain(check.world, check.token, p)}" for p in sorted(leaks)]
        details += [f"MISS {explain(check.world, check.token, p)}" for p in sorted(misses)]
        assert not details, (
            f"world {check.world_key}, caller {check.caller} "
            f"({check.principal.describe()}):\n  " + "\n  ".join(details)
        )
        compared += 1
    return compared


def test_filter_matches_gitlab_on_200_generated_worlds(
    simulator: SimulatorServer, opensearch_client: OpenSearch, items_index: str
) -> None:
    worlds = []
    for seed in range(WORLDS):
        world = generate(seed, users=20, groups=12, projects=50)
        world.admin_mode = seed % 3 == 0  # a third of the worlds have Admin Mode on
        worlds.append((f"seed{seed}", world))
    compared = run_parity(simulator, opensearch_client, items_index, worlds)
    assert compared >= WORLDS * 20  # every world, anonymous and at least 19 usable tokens


def test_golden_cases_hold_through_resolver_and_filter(
    simulator: SimulatorServer, opensearch_client: OpenSearch, items_index: str
) -> None:
    worlds = []
    for admin_mode in (False, True):
        world = golden_world()
        world.admin_mode = admin_mode
        # labstac's own token must act as admin whatever the mode.
        worlds.append((f"golden-{admin_mode}", world))
    run_parity(simulator, opensearch_client, items_index, worlds)
    # And each golden case, by name, through the same path.
    for admin_mode in (False, True):
        key = f"golden-{admin_mode}"
        world = dict(worlds)[key]
        simulator.app.world = world
        for case in (c for c in GOLDEN_CASES if c.admin_mode == admin_mode):
            principal = asyncio.run(resolve(simulator, world, [case.token]))[0]
            project = world.find_project(case.project)
            assert project is not None
            seen = principal is not None and project.id in matched(
                opensearch_client, items_index, key, principal
            )
            assert seen == case.can_read, f"{case.name} ({case.doc})"
