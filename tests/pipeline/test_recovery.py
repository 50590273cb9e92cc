"""The pipeline after faults, on real processes, each test reproducing a hole a chaos run
found: hooks before any worker, a worker killed holding tasks, a member removed while their
memberships are being resolved, a reindex failing half-way, a renamed user or group, Redis
away under a worker, and a retry that cannot be published.

Unlike tests/pipeline/test_faults.py, these stacks keep the production visibility timeout
(900 s): a crashed worker's tasks must come back by labstac's own means, not by waiting."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opensearchpy import OpenSearch
from pipeline_stack import SECRET, Stack, catalogued
from redis import Redis
from support import (
    LABSTAC_BIN,
    OPENSEARCH_URL,
    REDIS_HOST_URL,
    REDIS_TEST_DB,
    ApiServer,
    WorkerProcess,
    settings_env,
    wait_until,
)
from tcp_proxy import TcpProxy, proxy_to

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import REPORTER
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings

pytestmark = pytest.mark.services
STAC = "/api/v1/stac"


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    with proxy_to(REDIS_HOST_URL, 6379) as proxy:
        yield proxy


@pytest.fixture
def opensearch_proxy() -> Iterator[TcpProxy]:
    with proxy_to(OPENSEARCH_URL, 9200) as proxy:
        yield proxy


@pytest.fixture
def make_stack(
    start_api: Callable[..., ApiServer],
    start_worker: Callable[[Settings], WorkerProcess],
    make_runtime: Callable[..., IndexRuntime],
    opensearch_client: OpenSearch,
    tmp_path: Path,
) -> Iterator[Callable[..., Stack]]:
    """A stack on its own world; ``worker=False`` starts no worker."""
    servers: list[SimulatorServer] = []

    def make(worker: bool = True, **overrides: Any) -> Stack:
        world = generate(seed=23, users=20, groups=12, projects=40)
        sim = SimulatorServer(world).start()
        servers.append(sim)
        runtime = make_runtime(
            sim, webhook_secrets=SECRET, state_dir=tmp_path / "state", **overrides
        )
        runtime.rebuild().run()
        settings = runtime.settings
        api = start_api(settings)
        started = start_worker(settings) if worker else None
        stack = Stack(sim, settings, runtime, api, started, opensearch_client, start_worker)  # type: ignore[arg-type]
        stack.system_hook()
        return stack

    yield make
    for sim in servers:
        sim.stop()


def done_tasks(redis: Redis) -> int:
    return sum(int(v) for v in redis.mget(redis.keys("labstac:task-stats:done:*")) if v)


# ------------------------------------------------------------- hooks before workers


def test_hooks_received_before_any_worker_exists_are_all_applied(
    make_stack: Callable[..., Stack], redis_client: Redis
) -> None:
    stack = make_stack(worker=False)
    with httpx.Client(timeout=30) as client:
        for n in range(500):
            answer = client.post(
                stack.hook_url,
                json={"event_name": "project_update", "project_id": 500_000 + n},
                headers={"X-Gitlab-Token": SECRET},
            )
            assert answer.json()["status"] == "queued", answer.text
    assert redis_client.llen(stack.settings.task_queue) == 500
    stack.worker = stack.start_worker(stack.settings)
    wait_until(lambda: done_tasks(redis_client) >= 500, 120, "500 tasks to run")
    assert redis_client.llen(stack.settings.task_queue) == 0


# ------------------------------------------------------------------- killed worker


def test_a_killed_workers_tasks_run_again_within_a_minute(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    world, changes = stack.sim.world, stack.sim.changes
    stack.sim.faults.update({"latency_ms": 1500})  # a project takes ~10 s to read now
    chosen = catalogued(world)[:6]
    for project_id in chosen:
        changes.push_files(project_id, 1, {"README.md": f"---\ntitle: killed {project_id}\n---\n"})
    stack.sim.delivery.flush()
    wait_until(lambda: stack.worker.log().count('"args": "(') >= 1, 30, "a task to start")
    time.sleep(2)
    os.killpg(os.getpgid(stack.worker.process.pid), signal.SIGKILL)  # the host died
    stack.worker.process.wait(10)
    last_event = time.monotonic()
    stack.sim.faults.update({"latency_ms": 0})
    stack.worker = stack.start_worker(stack.settings)
    stack.settle(timeout=60)
    assert time.monotonic() - last_event < 60


def test_a_slow_task_runs_once(make_stack: Callable[..., Stack]) -> None:
    """The tasks of a live worker stay its own however long they take."""
    stack = make_stack()
    stack.sim.faults.update({"latency_ms": 4000})  # about 25 s for one project
    project_id = catalogued(stack.sim.world)[0]
    stack.sim.changes.update_project(project_id, description="slow")
    stack.sim.delivery.flush()
    wait_until(lambda: "project indexed" in stack.worker.log(), 90, "the slow task")
    time.sleep(25)  # two recovery scans later
    assert stack.worker.log().count("project indexed") == 1, stack.worker.log()[-3000:]


# -------------------------------------------------------------- membership race


def test_a_member_removed_while_resolving_loses_access_at_once(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    world, changes = stack.sim.world, stack.sim.changes
    private = next(p for p in (world.project_by_id[i] for i in catalogued(world, "private"))
                   if p.namespace_kind == "group")  # fmt: skip
    member = next(u for u in world.users if u.state == "active" and not u.is_admin
                  and not u.external and not u.bot)  # fmt: skip
    changes.add_member("group", private.namespace_id, member.id, REPORTER)
    stack.sim.delivery.flush()
    token = world.token_named(member.id).token
    path = world.project_full_path(private)

    def sees_it() -> bool:
        found = httpx.get(f"{stack.api.url}{STAC}/search", params={"ids": path},
                          headers={"PRIVATE-TOKEN": token}, timeout=30)  # fmt: skip
        assert found.status_code == 200, found.text
        return bool(found.json()["features"])

    wait_until(lambda: "user forgotten" in stack.worker.log(), 20, "the add to be heard")
    # GitLab answers the memberships as they are now, and the answer arrives 3 s later:
    # the removal lands in between.
    stack.sim.faults.update({"slow_route": "GET /users/:user/memberships", "slow_route_ms": 3000})
    early = threading.Thread(target=sees_it)
    early.start()
    time.sleep(0.5)
    forgotten = stack.worker.log().count("user forgotten")
    changes.remove_member("group", private.namespace_id, member.id)
    stack.sim.delivery.flush()
    wait_until(lambda: stack.worker.log().count("user forgotten") > forgotten, 10, "forget_user")
    early.join()
    stack.sim.faults.update({"slow_route": "", "slow_route_ms": 0})
    assert not sees_it()


# ----------------------------------------------------------------- reindex faults


def reindex(settings: Settings, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LABSTAC_BIN, "reindex", "--concurrency", "4"], env=settings_env(settings),
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_a_reindex_failing_on_the_engine_leaves_nothing_behind(
    make_stack: Callable[..., Stack], opensearch_proxy: TcpProxy
) -> None:
    stack = make_stack()
    through_proxy = stack.settings.model_copy(
        update={"opensearch_url": [f"http://127.0.0.1:{opensearch_proxy.port}"]}
    )
    stack.sim.faults.update({"latency_ms": 300})  # the rebuild takes a while

    def cut_then_restore() -> None:
        time.sleep(3)
        opensearch_proxy.stop()
        time.sleep(8)
        opensearch_proxy.start()

    outage = threading.Thread(target=cut_then_restore)
    outage.start()
    failed = reindex(through_proxy)
    outage.join()
    stack.sim.faults.update({"latency_ms": 0})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    layout = stack.runtime.layout
    live = stack.client.indices.get_alias(name=layout.read_alias)
    assert set(stack.client.indices.get(index=layout.pattern)) == set(live), "a leftover index"
    assert not stack.client.indices.exists_alias(name=layout.building_alias)
    assert reindex(stack.settings).returncode == 0


def test_a_reindex_failing_on_redis_frees_its_lease_in_seconds(
    make_stack: Callable[..., Stack], redis_proxy: TcpProxy
) -> None:
    stack = make_stack()
    through_proxy = stack.settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_TEST_DB}"}
    )
    stack.sim.faults.update({"latency_ms": 300})
    outage = threading.Timer(3, redis_proxy.stop)
    outage.start()
    failed = reindex(through_proxy)
    outage.join()
    stack.sim.faults.update({"latency_ms": 0})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    started = time.monotonic()
    while reindex(stack.settings).returncode != 0:
        assert time.monotonic() - started < 45, "the lease of the failed reindex is still held"
        time.sleep(3)


# --------------------------------------------------------------------- renames


def test_a_renamed_users_projects_get_their_new_ids_at_once(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    world = stack.sim.world
    personal = next(world.project_by_id[i] for i in catalogued(world)
                    if world.project_by_id[i].namespace_kind == "user")  # fmt: skip
    owner = world.user_by_id[personal.namespace_id]
    old_path = world.project_full_path(personal)
    stack.sim.changes.rename_user(owner.id, f"{owner.username}-renamed")
    stack.sim.delivery.flush()
    new_path = world.project_full_path(personal)
    assert new_path != old_path
    stack.settle(timeout=20)  # well before any scheduled pass


def test_a_group_rename_reaches_a_subgroup_moved_in_without_a_hook(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    world, changes = stack.sim.world, stack.sim.changes
    projects_by_group = {g.id: [p for p in world.projects_by_group.get(g.id, [])
                                if p.id in catalogued(world)] for g in world.groups}  # fmt: skip
    moved = next(g for g in world.groups if g.parent_id is not None and projects_by_group[g.id])
    target = next(g for g in world.groups if g.parent_id is None
                  and g.id not in world.ancestor_ids(moved.id)
                  and g.visibility == "public")  # fmt: skip
    changes.move_group(moved.id, target.id)  # GitLab sends no hook for a move
    stack.sim.delivery.flush()
    changes.rename_group(target.id, f"{target.path}-renamed")
    stack.sim.delivery.flush()
    stack.settle(timeout=30)


# ------------------------------------------------------------------- Redis away


def test_a_worker_rides_out_redis_going_away_and_exits_non_zero_past_its_patience(
    make_stack: Callable[..., Stack], redis_proxy: TcpProxy
) -> None:
    stack = make_stack(worker=False)
    through_proxy = stack.settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_TEST_DB}",
            "broker_retry_seconds": 20,
        }
    )
    worker = stack.start_worker(through_proxy)
    stack.worker = worker
    stack.sim.faults.update({"latency_ms": 1000})
    for project_id in catalogued(stack.sim.world)[:4]:
        stack.sim.changes.update_project(project_id, description="while Redis blinks")
    stack.sim.delivery.flush()
    wait_until(lambda: '"args": "(' in worker.log(), 30, "tasks to be held")
    redis_proxy.stop()
    time.sleep(6)
    redis_proxy.start()
    stack.sim.faults.update({"latency_ms": 0})
    stack.settle(timeout=60)
    assert worker.process.poll() is None, worker.log()[-3000:]
    redis_proxy.stop()  # for good, this time
    assert worker.process.wait(90) != 0, worker.log()[-3000:]


def test_a_retry_that_cannot_be_published_is_never_dropped(
    make_stack: Callable[..., Stack], redis_proxy: TcpProxy, opensearch_proxy: TcpProxy
) -> None:
    """OpenSearch is away, so the task fails and must be retried; Redis is away too, so the
    retry cannot be published. Celery then rejects the message for good; labstac keeps it."""
    stack = make_stack(worker=False)
    through = stack.settings.model_copy(update={
        "redis_url": f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_TEST_DB}",
        "opensearch_url": [f"http://127.0.0.1:{opensearch_proxy.port}"],
    })  # fmt: skip
    stack.worker = stack.start_worker(through)
    stack.sim.faults.update({"latency_ms": 1500})
    project_id = catalogued(stack.sim.world)[0]
    stack.sim.changes.push_files(project_id, 1, {"README.md": "---\ntitle: kept\n---\n"})
    stack.sim.delivery.flush()
    wait_until(lambda: '"args": "(' in stack.worker.log(), 30, "the task to start")
    opensearch_proxy.stop()
    redis_proxy.stop()
    time.sleep(75)  # longer than the retry's patience with the broker (about 60 s)
    redis_proxy.start()
    opensearch_proxy.start()
    stack.sim.faults.update({"latency_ms": 0})
    stack.settle(timeout=120)
