"""The index kept right on real OpenSearch against the simulated GitLab: a rebuild makes it
equal the world, searches never fail nor lose a match during one, events during one survive
the swap, versions make any write order converge, and reconcile repairs what GitLab never
announced."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from index_checks import assert_index_equals_world, expected_documents
from opensearchpy import OpenSearch
from support import LABSTAC_BIN, settings_env

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import DEVELOPER, Project, ProjectShare, RepoFile, World
from indexer.index.layout import ensure_index
from indexer.index.reconcile import plan_access, plan_full
from indexer.index.reindex import ReindexSummary
from indexer.index.runtime import IndexRuntime
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of

pytestmark = pytest.mark.services


@pytest.fixture
def world() -> World:
    return generate(seed=31, users=40, groups=40, projects=500)


@pytest.fixture
def sim(world: World) -> Iterator[SimulatorServer]:
    with SimulatorServer(world) as server:
        yield server


@pytest.fixture
def runtime(sim: SimulatorServer, make_runtime: Callable[..., IndexRuntime]) -> IndexRuntime:
    return make_runtime(sim)


def rebuild(runtime: IndexRuntime, concurrency: int = 8) -> ReindexSummary:
    ensure_index(runtime.engine, runtime.layout)
    return runtime.rebuild(concurrency=concurrency).run()


def test_a_rebuild_makes_the_index_equal_the_world(
    runtime: IndexRuntime, opensearch_client: OpenSearch, world: World
) -> None:
    summary = rebuild(runtime)
    assert summary.swapped and not summary.failed
    assert summary.seen >= 300
    assert_index_equals_world(opensearch_client, runtime, world)
    aliases = runtime.engine.alias_targets(
        runtime.layout.read_alias, runtime.layout.write_alias, runtime.layout.building_alias
    )
    assert aliases[runtime.layout.read_alias] == [summary.index]
    assert aliases[runtime.layout.write_alias] == [summary.index]
    assert aliases[runtime.layout.building_alias] == []
    assert runtime.engine.indices(runtime.layout.pattern) == [summary.index]


def slow_rebuild(
    runtime: IndexRuntime, sim: SimulatorServer
) -> tuple[threading.Thread, list[ReindexSummary]]:
    sim.faults.update({"latency_ms": 8})
    done: list[ReindexSummary] = []
    thread = threading.Thread(target=lambda: done.append(rebuild(runtime, concurrency=4)))
    thread.start()
    building = runtime.layout.building_alias
    deadline = time.monotonic() + 30
    while not runtime.engine.alias_targets(building)[building]:
        assert time.monotonic() < deadline and thread.is_alive(), "the rebuild never started"
        time.sleep(0.05)
    return thread, done


def test_searches_during_a_rebuild_never_fail_nor_lose_a_match(
    runtime: IndexRuntime, opensearch_client: OpenSearch, sim: SimulatorServer
) -> None:
    first = rebuild(runtime)
    baseline = opensearch_client.count(index=runtime.layout.read_alias)["count"]
    thread, done = slow_rebuild(runtime, sim)
    counts = []
    while thread.is_alive():
        counts.append(opensearch_client.count(index=runtime.layout.read_alias)["count"])
        time.sleep(0.02)
    thread.join()
    counts.append(opensearch_client.count(index=runtime.layout.read_alias)["count"])
    assert len(counts) > 10
    assert set(counts) == {baseline}
    assert done and done[0].swapped and done[0].index != first.index


def test_changes_during_a_rebuild_are_in_the_index_after_it(
    runtime: IndexRuntime, opensearch_client: OpenSearch, sim: SimulatorServer, world: World
) -> None:
    rebuild(runtime)
    thread, done = slow_rebuild(runtime, sim)
    sync = runtime.project_sync()
    # A new project, a deleted one, one that changed category, as events would announce.
    new = Project(
        id=world.next_id("project"), path="fresh-model", name="Fresh model", namespace_kind="group",
        namespace_id=world.groups[0].id, visibility="public", topics=["sharinghub:aimodel"],
        files={"README.md": RepoFile("README.md", "# fresh\n")},
    )  # fmt: skip
    world.projects.append(new)
    gone = next(p for p in world.projects if categories_of(p.topics, DEFAULT_CATEGORIES)
                and p.repository_access_level != "disabled")  # fmt: skip
    world.projects.remove(gone)
    moved = next(p for p in world.projects if p.topics[:1] == ["sharinghub:dataset"]
                 and p.repository_access_level != "disabled" and p is not new)  # fmt: skip
    moved.topics = ["sharinghub:processor"]
    world.changed()
    for project_id in (new.id, gone.id, moved.id):
        assert not sync.sync(project_id).failures
    thread.join()
    assert done and done[0].swapped
    assert_index_equals_world(opensearch_client, runtime, world)


def test_out_of_order_writes_end_with_the_newest_read(
    runtime: IndexRuntime, opensearch_client: OpenSearch, world: World
) -> None:
    rebuild(runtime)
    sync = runtime.project_sync()
    project = next(p for p in world.projects if p.topics[:1] == ["sharinghub:aimodel"]
                   and p.repository_access_level != "disabled")  # fmt: skip
    old_version, old_writes = sync.plan(project.id)
    project.name = "Renamed after the first read"
    world.changed()
    new_version, new_writes = sync.plan(project.id)
    assert new_version > old_version
    targets = [runtime.layout.write_alias]
    runtime.engine.write(targets, new_writes)
    late = runtime.engine.write(targets, old_writes)
    assert {r.outcome for r in late if r.doc_id.startswith("ai-model:")} == {"stale"}
    opensearch_client.indices.refresh(index=runtime.layout.read_alias)
    stored = opensearch_client.get(index=runtime.layout.read_alias, id=f"ai-model:{project.id}")
    assert stored["_source"]["properties"]["sharinghub:name"].endswith(
        "Renamed after the first read"
    )


def test_a_delete_then_a_late_older_write_leaves_the_project_deleted(
    runtime: IndexRuntime, opensearch_client: OpenSearch, world: World
) -> None:
    rebuild(runtime)
    sync = runtime.project_sync()
    project = next(p for p in world.projects if p.topics[:1] == ["sharinghub:dataset"]
                   and p.repository_access_level != "disabled")  # fmt: skip
    _, delayed = sync.plan(project.id)  # read while it still existed
    world.projects.remove(project)
    world.changed()
    deleted = sync.sync(project.id)  # the project_destroy event
    assert "deleted" in {r.outcome for r in deleted.results}
    late = runtime.engine.write([runtime.layout.write_alias], delayed)
    assert {r.outcome for r in late if r.doc_id.startswith("dataset:")} == {"stale"}
    opensearch_client.indices.refresh(index=runtime.layout.read_alias)
    assert not opensearch_client.exists(index=runtime.layout.read_alias, id=f"dataset:{project.id}")


def test_reconcile_repairs_a_world_changed_behind_labstacs_back(
    runtime: IndexRuntime, opensearch_client: OpenSearch, world: World
) -> None:
    rebuild(runtime)
    # GitLab sends nothing for these: a share, a group moved without a rename; and events
    # that were lost: deleted projects, a new project, a topic change.
    candidates = [
        p for p in world.projects
        if categories_of(p.topics, DEFAULT_CATEGORIES)
        and p.repository_access_level != "disabled" and p.namespace_kind == "group"
    ]  # fmt: skip
    shared = candidates[0]
    group = next(g for g in world.groups if g.id != shared.namespace_id)
    world.project_shares.append(ProjectShare(shared.id, group.id, DEVELOPER))
    mover = next(
        g for g in world.groups if g.parent_id is not None and world.projects_by_group.get(g.id)
    )
    mover.parent_id = None
    for doomed in candidates[1:4]:
        world.projects.remove(doomed)
    candidates[5].topics = ["sharinghub:tools"]
    world.projects.append(Project(
        id=world.next_id("project"), path="late", name="Late", namespace_kind="group",
        namespace_id=world.groups[1].id, visibility="public", topics=["sharinghub:dataset"],
    ))  # fmt: skip
    world.changed()

    plan = plan_full(runtime.reader(), runtime.engine, runtime.layout, runtime.categories)
    assert plan.missing and plan.gone and plan.stale
    sync = runtime.project_sync()
    assert not any(sync.sync(project_id).failures for project_id in plan.project_ids)
    assert_index_equals_world(opensearch_client, runtime, world)
    again = plan_full(runtime.reader(), runtime.engine, runtime.layout, runtime.categories)
    assert again.project_ids == []


def test_the_access_pass_touches_only_the_projects_whose_access_changed(
    runtime: IndexRuntime, opensearch_client: OpenSearch, world: World
) -> None:
    rebuild(runtime)
    indexed_ids = {p.id for p in expected_documents(world).values()}
    shared = next(p for p in world.projects if p.id in indexed_ids and p.namespace_kind == "group")
    group = next(g for g in world.groups if g.id != shared.namespace_id
                 and g.id not in world.project_ancestor_group_ids(shared))  # fmt: skip
    world.project_shares.append(ProjectShare(shared.id, group.id, DEVELOPER))
    mover = next(
        g for g in world.groups
        if g.parent_id is not None
        and any(p.id in indexed_ids for p in world.projects_by_group.get(g.id, []))
        and shared.namespace_id not in {g.id, *world.descendant_ids(g.id)}
    )  # fmt: skip
    subtree = {mover.id, *world.descendant_ids(mover.id)}
    mover.parent_id = None
    world.changed()
    moved = {p.id for p in world.projects if p.id in indexed_ids
             and p.namespace_kind == "group" and p.namespace_id in subtree}  # fmt: skip

    plan = plan_access(runtime.reader(), runtime.engine, runtime.layout, runtime.categories,
                       runtime.settings.min_access_level)  # fmt: skip
    assert set(plan.stale) == moved | {shared.id}
    sync = runtime.project_sync()
    for project_id in plan.project_ids:
        assert not sync.sync(project_id).failures
    assert_index_equals_world(opensearch_client, runtime, world)
    after = plan_access(runtime.reader(), runtime.engine, runtime.layout, runtime.categories,
                        runtime.settings.min_access_level)  # fmt: skip
    assert after.stale == []


def test_the_reindex_and_reconcile_commands(
    runtime: IndexRuntime, opensearch_client: OpenSearch, world: World, sim: SimulatorServer
) -> None:
    env = settings_env(runtime.settings)
    first = subprocess.run([LABSTAC_BIN, "reindex", "--concurrency", "4"], env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "(live)" in first.stdout
    listed = [p for p in world.projects if categories_of(p.topics, DEFAULT_CATEGORIES)]
    assert f"projects   {len(listed)} read" in first.stdout
    assert f"documents  {len(expected_documents(world))} written" in first.stdout
    assert "reindex: " in first.stderr  # progress, plain lines when not on a terminal
    assert "merged     into one segment" in first.stdout
    assert_index_equals_world(opensearch_client, runtime, world)
    # The new index went live merged, so OpenSearch's filter cache covers all of it.
    live = runtime.engine.alias_targets(runtime.layout.read_alias)[runtime.layout.read_alias]
    shards = opensearch_client.indices.segments(index=live[0])["indices"][live[0]]["shards"]
    segments = [s for copies in shards.values() for copy in copies for s in copy["segments"]]
    assert len(segments) == 1, segments

    world.projects.remove(next(iter(expected_documents(world).values())))
    world.changed()
    dry = subprocess.run([LABSTAC_BIN, "reconcile", "--dry-run"], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "gone 1" in dry.stdout and "re-indexed 0" in dry.stdout
    fix = subprocess.run([LABSTAC_BIN, "reconcile"], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert fix.returncode == 0 and "re-indexed 1, failed 0" in fix.stdout
    assert_index_equals_world(opensearch_client, runtime, world)

    # labstac's token revoked mid-way: the rebuild fails and the live index stays.
    world.token_named(1).revoked = True
    world.changed()
    before = runtime.engine.alias_targets(runtime.layout.read_alias)
    broken = subprocess.run([LABSTAC_BIN, "reindex"], env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert broken.returncode == 1
    assert "reindex failed" in broken.stderr
    assert runtime.engine.alias_targets(runtime.layout.read_alias) == before
    assert runtime.engine.indices(runtime.layout.pattern) == before[runtime.layout.read_alias]
