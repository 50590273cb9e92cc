"""Items through the whole path: a generated world indexed from the simulated GitLab over
HTTP; for a sample of projects, the item read back from the index equals the item built
straight from the simulator's files, and validates."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch
from stac_validation import validation_errors

from api.stac_links import item_links
from gitlab_sim import entities
from gitlab_sim.api import _tree_entries
from gitlab_sim.generator import generate
from gitlab_sim.permissions import Caller, Oracle
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import Project, World
from indexer.gitlab.snapshot import ProjectSnapshot, TreeEntry
from indexer.index.runtime import IndexRuntime
from indexer.stac.categories import categories_of
from indexer.stac.items import ItemBuilder

pytestmark = pytest.mark.services
INTERNAL = ("doc_key", "labstac", "_acl")


@pytest.fixture
def indexed_world(
    make_runtime: Callable[..., IndexRuntime],
) -> Iterator[tuple[World, IndexRuntime, SimulatorServer]]:
    world = generate(seed=81, users=30, groups=20, projects=150)
    with SimulatorServer(world) as sim:
        runtime = make_runtime(sim)
        summary = runtime.rebuild().run()
        assert summary.swapped and not summary.failed
        yield world, runtime, sim


def snapshot_from_files(world: World, project: Project) -> ProjectSnapshot:
    """What GitLab holds for the project, taken from the simulator's world directly."""
    admin = Oracle(world, Caller.of(world.user_by_id[1], ("api",)))
    record = entities.project_entity(
        world, project, admin, with_license=True, with_permissions=True
    )
    readme = project.files.get("README.md")
    releases = sorted(project.releases, key=lambda r: r.released_at, reverse=True)
    return ProjectSnapshot(
        project=record,
        readme=(readme.lfs_content or readme.content) if readme else None,
        tree=tuple(TreeEntry(path, kind) for path, kind in _tree_entries(project)),
        latest_release=entities.release_entity(world, project, releases[0]) if releases else None,
        readme_path="README.md" if readme else None,
    )


def served(item: dict[str, Any]) -> dict[str, Any]:
    """The item with the links the API makes per request."""
    return {**item, "links": item_links("https://labstac.example.com/api/v1/stac", item)}


def test_items_read_back_equal_items_built_from_the_files(
    indexed_world: tuple[World, IndexRuntime, SimulatorServer], opensearch_client: OpenSearch
) -> None:
    world, runtime, sim = indexed_world
    builder = ItemBuilder(runtime.catalog, sim.url)
    candidates = [
        (project, category)
        for project in world.projects
        if project.repository_access_level != "disabled"
        for category in categories_of(project.topics, runtime.categories)
    ]
    sample = random.Random(5).sample(candidates, 25)
    assert any(p.releases for p, _ in sample) and any(
        f.is_lfs for p, _ in sample for f in p.files.values()
    )
    for project, category in sample:
        stored = opensearch_client.get(
            index=runtime.layout.read_alias, id=f"{category.id}:{project.id}"
        )
        read_back = {k: v for k, v in stored["_source"].items() if k not in INTERNAL}
        member_of = categories_of(project.topics, runtime.categories)
        expected = builder.build(snapshot_from_files(world, project), category, member_of)
        assert read_back == expected, f"{category.id}:{world.project_full_path(project)}"
        assert validation_errors(served(read_back)) == [], world.project_full_path(project)
