"""Geometries from READMEs reach GEOS, native code that recurses. A WKT extent nested tens
of thousands deep crashed the worker (segfault), was handed to the next worker and crashed
it too, and crashed `labstac reindex`, which left its lock for six hours. Nesting and size
are bounded before shapely now; and a task whose process dies under it, whatever the cause,
ends as a dead letter after a bounded number of deliveries."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable

import pytest
from hostile_stack import HostileStack, catalogued_projects, push_readme, warnings_of, with_worker
from redis import Redis
from support import LABSTAC_BIN, REDIS_HOST_URL, REDIS_TEST_DB, settings_env, wait_until

from gitlab_sim.world import RepoFile, World

pytestmark = pytest.mark.services
DEEP_WKT = "GEOMETRYCOLLECTION(" * 50_000 + "POINT(1 2)" + ")" * 50_000


def readme_with_extent(spatial: str) -> str:
    return f"---\nextent:\n  spatial: {json.dumps(spatial)}\n---\n# Extent\n"


def deep_wkt_in_world(world: World) -> None:
    # A project of the world already holds the crashing extent when the index is built.
    project = world.project_by_id[catalogued_projects(world)[5]]
    project.files["README.md"] = RepoFile("README.md", readme_with_extent(DEEP_WKT))


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    # Front matter large enough to carry the 1 MB extent, so that it reaches the geometry.
    return with_worker(
        make_stack(
            deep_wkt_in_world, geometry_max_positions=1000,
            front_matter_max_bytes=4 * 1024 * 1024, readme_max_bytes=4 * 1024 * 1024,
        )
    )  # fmt: skip


def test_a_wkt_nested_deep_is_refused_and_the_worker_lives(stack: HostileStack) -> None:
    deep, long, fine = catalogued_projects(stack.world)[:3]
    push_readme(stack, deep, readme_with_extent(DEEP_WKT))
    many = "MULTIPOINT(" + ",".join(f"({n % 180} {n % 90})" for n in range(5000)) + ")"
    push_readme(stack, long, readme_with_extent(many))
    push_readme(stack, fine, readme_with_extent("POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))"))
    refused = stack.wait_for_item(deep, lambda i: bool(warnings_of(i)))
    assert any("nests deeper than 4 levels" in w for w in warnings_of(refused))
    assert refused["geometry"] is None
    too_many = stack.wait_for_item(long, lambda i: bool(warnings_of(i)))
    assert any("more than 1000 positions" in w for w in warnings_of(too_many))
    located = stack.wait_for_item(fine, lambda i: i["geometry"] is not None)
    assert located["geometry"]["type"] == "Polygon"
    assert all(worker.process.poll() is None for worker in stack.workers)


def test_invalid_shapes_get_their_bbox_and_odd_coordinates_nothing(stack: HostileStack) -> None:
    """Repairing a self-crossing ring of a few thousand random points took GEOS minutes and
    gigabytes; NaN coordinates and four dimensions made documents the engine refused."""
    tangled, nan, four_d = catalogued_projects(stack.world)[6:9]
    rng = random.Random(7)
    points = [(rng.randint(0, 100), rng.randint(0, 60)) for _ in range(900)]
    ring = ", ".join(f"{x} {y}" for x, y in [*points, points[0]])
    started = time.monotonic()
    push_readme(stack, tangled, readme_with_extent(f"POLYGON(({ring}))"))
    push_readme(stack, nan, readme_with_extent("POLYGON((0 0, 1 0, nan 1, 0 0))"))
    push_readme(stack, four_d, readme_with_extent("POINT (1 2 3 4)"))
    boxed = stack.wait_for_item(tangled, lambda i: bool(warnings_of(i)))
    assert time.monotonic() - started < 30
    assert any("the item has its bounding box" in w for w in warnings_of(boxed))
    assert boxed["geometry"]["type"] == "Polygon" and len(boxed["geometry"]["coordinates"][0]) == 5
    refused = stack.wait_for_item(nan, lambda i: bool(warnings_of(i)))
    assert refused["geometry"] is None
    assert any("finite" in w for w in warnings_of(refused))
    flat = stack.wait_for_item(four_d, lambda i: i["geometry"] is not None)
    assert flat["geometry"] == {"type": "Point", "coordinates": [1.0, 2.0]}


def test_reindex_with_the_crashing_extent_completes_and_frees_its_lock(
    stack: HostileStack,
) -> None:
    rebuilt = subprocess.run(
        [LABSTAC_BIN, "reindex", "--concurrency", "16"],
        env=settings_env(stack.settings), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    # 16 writer threads, and as many connections to the engine: none dropped.
    assert "Connection pool is full" not in rebuilt.stdout + rebuilt.stderr
    again = subprocess.run(
        [LABSTAC_BIN, "reindex", "--concurrency", "2"],
        env=settings_env(stack.settings), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr  # no lock left behind
    project = catalogued_projects(stack.world)[5]
    item = stack.item(project)
    assert item is not None and any("nests deeper" in w for w in warnings_of(item))


def worker_pids(stack: HostileStack) -> list[int]:
    return [w.process.pid for w in stack.workers if w.process.poll() is None]


def test_a_task_that_kills_its_process_ends_as_a_dead_letter(stack: HostileStack) -> None:
    """Whatever kills a worker under a task (here: SIGKILL, as the OOM killer would, while
    the task waits on a slow GitLab), the task comes back; after three deliveries that all
    died, the fourth is a dead letter and the queue moves on."""
    redis = Redis.from_url(f"{REDIS_HOST_URL}/{REDIS_TEST_DB}", decode_responses=True)
    letters_before = redis.llen("labstac:dead-letters")
    project = catalogued_projects(stack.world)[4]
    stack.sim.faults.update({"latency_ms": 3000})  # each GitLab read takes 3 s
    try:
        seen = len(stack.workers[-1].log())  # what that worker logged before
        # One event, so one task (a push sends two: push and repository_update).
        stack.sim.changes.update_project(project, description="killer")
        stack.sim.delivery.flush()
        for delivery in range(3):
            worker = stack.workers[-1]
            wait_until(
                lambda w=worker, s=seen: f'"args": "({project},)"' in w.log()[s:],
                60, f"delivery {delivery + 1} to start",
            )  # fmt: skip
            time.sleep(1)  # the task has begun (its first GitLab read takes 3 s)
            os.killpg(os.getpgid(worker.process.pid), signal.SIGKILL)
            worker.process.wait(10)
            time.sleep(1)
            stack.start_worker()  # the unacknowledged task is back after 5 s
            seen = 0
    finally:
        stack.sim.faults.update({"latency_ms": 0})
    try:
        wait_until(lambda: redis.llen("labstac:dead-letters") > letters_before, 60, "a letter")
    except AssertionError:
        raise AssertionError("\n".join(w.log()[-2500:] for w in stack.workers[-2:])) from None
    letter = json.loads(redis.lindex("labstac:dead-letters", 0) or "{}")
    assert letter["task"] == "labstac.workers.index.index_project"
    assert letter["args"] == [project]
    assert "died 3 times" in letter["error"]
    assert worker_pids(stack), "a worker is still running"
