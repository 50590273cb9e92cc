"""Property tests: on generated worlds, every list endpoint returns exactly what the
permission oracle allows each caller, through every page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import quote

import httpx
import pytest

from gitlab_sim.generator import generate
from gitlab_sim.permissions import Caller, Oracle
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import MINIMAL_ACCESS, Token, World

SEEDS = [1, 2, 3]


def walk(
    client: httpx.Client, url: str, params: dict[str, str | int]
) -> Iterator[dict[str, object]]:
    """Every item of a list endpoint, following Link rel="next" as python-gitlab does."""
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, f"{url}: {response.status_code} {response.text}"
        yield from response.json()
        following = response.links.get("next")
        if not following:
            return
        response = client.get(following["url"])


def callers(world: World) -> list[tuple[str, Token | None]]:
    result: list[tuple[str, Token | None]] = [("anonymous", None)]
    for token in world.tokens:
        user = world.user_by_id[token.user_id]
        usable = not token.revoked and not world.expired(token.expires_at)
        if usable and user.state == "active" and set(token.scopes) & {"api", "read_api"}:
            result.append((f"{user.username}/{token.name}", token))
    return result


@pytest.mark.parametrize("seed", SEEDS)
def test_every_list_agrees_with_the_oracle(
    seed: int, serve_world: Callable[[World], SimulatorServer]
) -> None:
    world = generate(seed, users=20, groups=12, projects=60)
    world.admin_mode = seed % 2 == 0  # half the worlds run with Admin Mode on
    sim = serve_world(world)
    topic = "sharinghub:aimodel"
    with httpx.Client(base_url=f"{sim.url}/api/v4", timeout=30) as client:
        for name, token in callers(world):
            client.headers.clear()
            if token is not None:
                client.headers["PRIVATE-TOKEN"] = token.token
            caller = Caller.with_token(world, token) if token else Caller.anonymous()
            oracle = Oracle(world, caller)
            visible = oracle.visible_project_ids()
            context = f"seed {seed}, {name}"

            def ids(url: str, context: str = context, **params: str | int) -> list[int]:
                found = [int(item["id"]) for item in walk(client, url, {"per_page": 7, **params})]  # type: ignore[call-overload]
                assert len(found) == len(set(found)), f"{context}: {url} repeats items"
                return found

            assert set(ids("/projects")) == visible, context
            assert set(ids("/projects", pagination="keyset", order_by="id")) == visible, context
            assert set(ids("/projects", topic=topic)) == {
                p for p in visible if topic in world.project_by_id[p].topics
            }, context
            if token is not None:
                for level in (10, 20, 30):
                    expected = {
                        p.id
                        for p in world.projects
                        if p.id in visible and oracle.project_access(p).level >= level
                    }
                    assert set(ids("/projects", min_access_level=level)) == expected, context
                assert set(ids("/projects", membership="true")) == {
                    p.id
                    for p in world.projects
                    if p.id in visible and oracle.project_access(p).level >= 10
                }, context

            visible_groups = {g.id for g in world.groups if oracle.can_see_group(g)}
            assert set(ids("/groups", all_available="true")) == visible_groups, context
            default_groups = set(ids("/groups"))
            if token is None or oracle.acts_as_admin:
                assert default_groups == visible_groups, context
            else:
                assert default_groups == {
                    g for g in visible_groups if oracle.group_access(g).level >= MINIMAL_ACCESS
                }, context

            for group in world.groups[:4]:
                path = f"/groups/{group.id}"
                if group.id not in visible_groups:
                    assert client.get(path).status_code == 404, context
                    continue
                subtree = {group.id, *world.descendant_ids(group.id)}
                shared = {
                    s.project_id
                    for s in world.project_shares_by_group.get(group.id, [])
                    if not world.expired(s.expires_at)
                }
                expected = {
                    p.id
                    for p in world.projects
                    if p.id in visible
                    and (
                        (p.namespace_kind == "group" and p.namespace_id in subtree)
                        or p.id in shared
                    )
                }
                found = set(ids(f"{path}/projects", include_subgroups="true"))
                assert found == expected, context
                below = set(ids(f"{path}/descendant_groups"))
                assert below == set(world.descendant_ids(group.id)) & visible_groups, context

            for project in world.projects:
                encoded = quote(world.project_full_path(project), safe="")
                seen = client.get(f"/projects/{encoded}").status_code
                assert (seen == 200) == (project.id in visible), f"{context}: {project.id}"
                tree = client.get(f"/projects/{project.id}/repository/tree").status_code
                readable = bool(oracle.can_read_repository(project))
                assert (tree == 200) == readable, f"{context}: project {project.id} tree {tree}"
