"""python-gitlab, unmodified, reads the simulator exactly as it would read gitlab.com."""

from __future__ import annotations

import time
from collections.abc import Callable

import gitlab
import pytest
import requests

from gitlab_sim.generator import generate
from gitlab_sim.permissions import Caller, Oracle
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import Token, World


@pytest.fixture(scope="module")
def world() -> World:
    return generate(seed=11, users=20, groups=15, projects=120)


@pytest.fixture
def sim(world: World, serve_world: Callable[[World], SimulatorServer]) -> SimulatorServer:
    return serve_world(world)


def token_of(world: World, username: str, scopes: tuple[str, ...] = ("api", "read_api")) -> Token:
    user = world.user_by_username[username]
    return next(
        t
        for t in world.tokens
        if t.user_id == user.id
        and set(t.scopes) & set(scopes)
        and not t.revoked
        and not world.expired(t.expires_at)
    )


def client(sim: SimulatorServer, token: Token | None = None, **kwargs: object) -> gitlab.Gitlab:
    return gitlab.Gitlab(sim.url, private_token=token.token if token else None, **kwargs)  # type: ignore[arg-type]


def test_lists_projects_by_topic_through_pages_in_both_styles(sim: SimulatorServer) -> None:
    world = sim.world
    gl = client(sim, token_of(world, "user1"))
    expected = {p.id for p in world.projects if "sharinghub:dataset" in p.topics}
    assert len(expected) > 10

    offset = gl.projects.list(topic="sharinghub:dataset", per_page=5, iterator=True)
    offset_ids = [p.id for p in offset]
    assert offset.total == len(expected)  # X-Total
    keyset = gl.projects.list(
        topic="sharinghub:dataset", per_page=5, pagination="keyset", order_by="id", iterator=True
    )
    keyset_ids = [p.id for p in keyset]

    assert sorted(offset_ids) == sorted(keyset_ids) == sorted(expected)
    assert len(set(offset_ids)) == len(offset_ids)
    assert keyset_ids == sorted(keyset_ids, reverse=True)  # keyset defaults to sort=desc
    calls = sim.app.stats.calls["GET /projects"]
    assert calls >= 2 * (len(expected) // 5)  # it really paged


def test_gets_a_project_by_path_and_reads_its_readme(sim: SimulatorServer) -> None:
    world = sim.world
    project = next(
        p
        for p in world.projects
        if p.visibility == "public"
        and p.files
        and p.repository_access_level == "enabled"
        and p.namespace_kind == "group"
    )
    gl = client(sim)  # anonymous
    remote = gl.projects.get(world.project_full_path(project), license=True)
    assert remote.id == project.id
    assert remote.path_with_namespace == world.project_full_path(project)
    assert remote.topics == project.topics
    assert remote.namespace["full_path"] == world.namespace_full_path(project)
    assert not hasattr(remote, "permissions")  # anonymous callers get none
    readme = remote.files.raw("README.md", ref=remote.default_branch)
    assert readme.decode() == project.files["README.md"].content
    assert remote.files.get("README.md", ref="main").decode() == readme


def test_reads_lfs_objects_or_pointers(sim: SimulatorServer) -> None:
    world = sim.world
    admin = client(sim, token_of(world, "user1"))
    project, path = next((p, f.path) for p in world.projects for f in p.files.values() if f.is_lfs)
    remote = admin.projects.get(project.id, lazy=True)
    pointer = remote.files.raw(path, ref="main")
    assert pointer.decode().startswith("version https://git-lfs.github.com/spec/v1")
    assert remote.files.raw(path, ref="main", lfs=True).decode() == project.files[path].lfs_content


def test_walks_a_recursive_tree_in_both_pagination_styles(sim: SimulatorServer) -> None:
    world = sim.world
    project = max(world.projects, key=lambda p: len(p.files))
    remote = client(sim, token_of(world, "user1")).projects.get(project.id, lazy=True)
    legacy = remote.repository_tree(recursive=True, per_page=2, get_all=True)
    keyset = remote.repository_tree(recursive=True, per_page=2, pagination="keyset", get_all=True)
    blobs = {entry["path"] for entry in legacy if entry["type"] == "blob"}
    assert blobs == set(project.files)
    assert legacy == keyset
    top = remote.repository_tree(get_all=True)
    assert all("/" not in entry["path"] for entry in top)


def test_reads_the_latest_release(sim: SimulatorServer) -> None:
    world = sim.world
    project = next(p for p in world.projects if len(p.releases) > 1)
    gl = client(sim, token_of(world, "user1"))
    latest = gl.http_get(f"/projects/{project.id}/releases/permalink/latest")
    newest = max(project.releases, key=lambda r: r.released_at)
    assert isinstance(latest, dict)
    assert latest["tag_name"] == newest.tag_name
    assert latest["assets"]["links"][0]["url"] == newest.links[0].url
    releases = gl.projects.get(project.id, lazy=True).releases.list(get_all=True)
    assert releases[0].tag_name == newest.tag_name


def test_lists_a_users_groups_and_memberships(sim: SimulatorServer) -> None:
    world = sim.world
    member = next(
        u
        for u in world.users
        if u.state == "active"
        and not u.is_admin
        and not u.external
        and sum(m.source_type == "group" for m in world.memberships_by_user.get(u.id, [])) >= 2
    )
    gl = client(sim, token_of(world, member.username))
    gl.auth()
    assert gl.user is not None and gl.user.id == member.id
    groups = {g.id for g in gl.groups.list(get_all=True)}
    oracle = Oracle(world, Caller.of(member))
    assert groups == {
        g.id
        for g in world.groups
        if oracle.group_access(g.id).level >= 5 and oracle.can_see_group(g)
    }

    admin = client(sim, token_of(world, "user1"))
    memberships = admin.http_list(f"/users/{member.id}/memberships", get_all=True)
    direct = {
        (m.source_type, m.source_id)
        for m in world.memberships_by_user[member.id]
        if not world.expired(m.expires_at)
    }
    kinds = {"Namespace": "group", "Project": "project"}
    assert {(kinds[row["source_type"]], row["source_id"]) for row in memberships} == direct
    with pytest.raises(gitlab.GitlabHttpError) as refused:
        gl.http_list(f"/users/{member.id}/memberships")
    assert refused.value.response_code == 403


def test_retries_through_injected_429s(sim: SimulatorServer) -> None:
    world = sim.world
    sim.faults.update({"rate_limited_share": 0.5, "retry_after_seconds": 1, "seed": 1})
    gl = client(sim, token_of(world, "user1"))
    started = time.monotonic()
    ids = [p.id for p in gl.projects.list(per_page=20, get_all=True)]
    elapsed = time.monotonic() - started
    assert sorted(ids) == sorted(p.id for p in world.projects)
    # Calls were refused, and python-gitlab waited Retry-After (1 s) before each retry.
    refused = sim.app.stats.faults["rate_limited"]
    assert refused >= 2
    assert elapsed >= refused * 1.0
    assert sim.app.stats.calls["GET /projects"] == -(-len(world.projects) // 20)


def test_retries_transient_server_errors_when_asked(sim: SimulatorServer) -> None:
    world = sim.world
    sim.faults.update({"server_error_share": 0.3, "seed": 2})
    strict = client(sim, token_of(world, "user1"))
    with pytest.raises(gitlab.GitlabError):
        for _ in range(20):
            strict.projects.list(per_page=5, get_all=False)
    patient = client(sim, token_of(world, "user1"), retry_transient_errors=True)
    assert len(patient.projects.list(per_page=100, get_all=True)) == len(world.projects)


def test_a_call_can_time_out(sim: SimulatorServer) -> None:
    sim.faults.update({"timeout_share": 1.0, "timeout_seconds": 1})
    gl = client(sim, token_of(sim.world, "user1"), timeout=0.3)
    with pytest.raises(requests.exceptions.Timeout):
        gl.projects.list(get_all=False)
    assert sim.app.stats.faults["timeout"] == 1
    time.sleep(1)  # let the held call end before the server stops
