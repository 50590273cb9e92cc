"""MLflow SharingHub's questions to SharingHub, answered by labstac over HTTP: the permission
probe (`/api/check/...`) and the sign-in probe (`/api/auth/info`), checked against the
simulator's permission oracle for every (user, project) of a generated world, and through a
client written from the plugin's own code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from support import ApiServer

from gitlab_sim.generator import generate
from gitlab_sim.permissions import Caller, Oracle
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import Project, World
from indexer.index.runtime import IndexRuntime
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of

pytestmark = pytest.mark.services


def expected_answer(world: World, oracle: Oracle, project: Project) -> tuple[int, int | None]:
    """(status, SharingHub access level) the probe must give: 404 unless the caller reads the
    repository of a catalogued project; the level from GitLab's role."""
    categories = categories_of(project.topics, DEFAULT_CATEGORIES)
    if not categories or not oracle.can_read_repository(project):
        return 404, None
    if oracle.acts_as_admin:
        return 200, 4
    level = oracle.project_access(project).level
    return 200, 4 if level >= 40 else 3 if level >= 30 else 2


def test_the_probe_agrees_with_gitlab_for_every_user_and_project(
    make_runtime: Callable[..., IndexRuntime], start_api: Callable[..., ApiServer]
) -> None:
    world = generate(seed=4242, users=32, groups=14, projects=110)
    with SimulatorServer(world) as sim:
        runtime = make_runtime(sim, token_name="admin-mode")
        assert runtime.rebuild().run().swapped
        api = start_api(runtime.settings)
        checked = levels_seen = 0
        seen_levels: set[int] = set()
        with httpx.Client(base_url=api.url, timeout=30) as http:
            for token in world.tokens:
                headers = {"X-Gitlab-Token": token.token}  # as the plugin sends it
                signed_in = http.get("/api/auth/info", headers=headers)
                user = world.user_by_id[token.user_id]
                if token.revoked or world.expired(token.expires_at) or user.state != "active":
                    # GitLab refuses it: so does the probe.
                    refused = http.get(f"/api/check/{world.projects[0].id}", headers=headers)
                    assert (signed_in.status_code, refused.status_code) == (401, 401), token
                    continue
                oracle = Oracle(world, Caller.with_token(world, token))
                # A token that cannot read repositories (read_user) counts as anonymous.
                assert signed_in.status_code == (200 if oracle.user else 401), signed_in.text
                assert token.token not in signed_in.text  # never echoed
                for project in world.projects:
                    status, level = expected_answer(world, oracle, project)
                    answer = http.get(f"/api/check/{project.id}?info=true", headers=headers)
                    where = f"{token.name} of user {token.user_id}, project {project.id}"
                    assert answer.status_code == status, (where, answer.text)
                    checked += 1
                    if level is None:
                        continue
                    body = answer.json()
                    assert body["access_level"] == level, (where, body)
                    assert body["id"] == project.id
                    assert body["path"] == world.project_full_path(project)
                    assert body["name"] == project.name
                    assert body["categories"] == sorted(
                        c.id for c in categories_of(project.topics, DEFAULT_CATEGORIES)
                    )
                    seen_levels.add(level)
                    levels_seen += 1
            # Anonymous (the plugin with no credentials): public projects, read-only.
            anonymous = Oracle(world, Caller.anonymous())
            for project in world.projects:
                status, level = expected_answer(world, anonymous, project)
                answer = http.get(f"/api/check/{project.id}", params={"info": "true"})
                assert answer.status_code == status, project.id
                assert level is None or answer.json()["access_level"] == level == 2
    assert checked >= 30 * 100
    assert seen_levels == {2, 3, 4} and levels_seen > 300


def plugin_project_info(
    sharinghub_url: str, project_path: str, bearer: str | None, collection: str = "ai-model"
) -> tuple[str, Any]:
    """What MLflow SharingHub 0.2.0 does (clients/sharinghub.py, permissions.py): the path
    quoted whole, the token moved from Authorization to X-Gitlab-Token, 404 as no access,
    the project out of scope unless in its STAC collection, levels mapped to roles."""
    headers = {"X-Gitlab-Token": bearer} if bearer else {}
    response = httpx.get(
        f"{sharinghub_url}/api/check/{quote(project_path, safe='')}",
        params={"info": "true"}, headers=headers, timeout=30,
    )  # fmt: skip
    if response.status_code == 404:
        return "permission-denied", None
    if response.status_code == 401:
        return "unauthorized", None
    response.raise_for_status()
    data = response.json()
    if collection not in data["categories"]:
        return "permission-denied", None
    role = {0: "NO_ACCESS", 1: "GUEST", 2: "REPORTER", 3: "DEVELOPER", 4: "MAINTAINER"}[
        data["access_level"]
    ]
    can = {"NO_ACCESS": set(), "GUEST": {"read"}, "REPORTER": {"read"},
           "DEVELOPER": {"create", "read", "update", "delete"},
           "MAINTAINER": {"create", "read", "update", "delete"}}[role]  # fmt: skip
    return role, (data["id"], can)


def test_a_client_written_from_the_plugin_gets_what_it_needs(
    make_runtime: Callable[..., IndexRuntime], start_api: Callable[..., ApiServer]
) -> None:
    from gitlab_sim.demo import TOKENS, demo_world, fill_gitlab_url

    world = demo_world()
    with SimulatorServer(world) as sim:
        fill_gitlab_url(world)
        runtime = make_runtime(sim, token_name="root-demo")
        assert runtime.rebuild().run().swapped
        base = "/sharinghub"
        api = start_api(runtime.settings.model_copy(update={"sharinghub_root": base}))
        url = f"{api.url}{base}"
        flood = "eo-lab/models/flood-segmentation"  # internal, in eo-lab
        wine = "wine-co/wine-quality"  # private; bob is its Reporter
        # alice: Developer of eo-lab: may write the flood model's experiments.
        role, found = plugin_project_info(url, flood, TOKENS["alice"])
        assert role == "DEVELOPER" and found == (1, {"create", "read", "update", "delete"})
        # carol: signed in, no membership: reads an internal project only.
        assert plugin_project_info(url, flood, TOKENS["carol"]) == ("REPORTER", (1, {"read"}))
        # bob: external, Reporter of the wine project: reads it, and nothing internal.
        assert plugin_project_info(url, wine, TOKENS["bob"]) == ("REPORTER", (3, {"read"}))
        assert plugin_project_info(url, flood, TOKENS["bob"]) == ("permission-denied", None)
        # root: an admin's token in Admin Mode: everything.
        assert plugin_project_info(url, wine, TOKENS["root"])[0] == "MAINTAINER"
        # A dataset is not in the plugin's collection: out of scope, as in SharingHub.
        sen1floods11 = "eo-lab/data/sen1floods11"
        assert plugin_project_info(url, sen1floods11, TOKENS["alice"]) == (
            "permission-denied", None,
        )  # fmt: skip
        # A token GitLab refuses, and no project at all.
        assert plugin_project_info(url, flood, "glpat-not-a-real-token-000") == (
            "unauthorized", None,
        )  # fmt: skip
        assert plugin_project_info(url, "eo-lab/nothing-here", TOKENS["alice"])[0] == (
            "permission-denied"
        )
        # By id, by path with its slashes, without info: an empty 200.
        headers = {"X-Gitlab-Token": TOKENS["alice"]}
        by_id = httpx.get(f"{url}/api/check/1", params={"info": "true"}, headers=headers)
        assert by_id.json()["path"] == flood
        plain = httpx.get(f"{url}/api/check/{flood}", headers=headers)
        assert plain.status_code == 200 and plain.content == b""
        bad = httpx.get(f"{url}/api/check/{flood}", params={"info": "maybe"}, headers=headers)
        assert bad.status_code == 400 and "info" in bad.json()["description"]
        assert httpx.get(f"{url}/api/auth/info").status_code == 401  # anonymous
