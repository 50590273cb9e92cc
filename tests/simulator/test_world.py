"""Worlds: JSON round trips, seeded generation, GitLab's structural rules, and the minimum
share of tricky permission cases every generated world must hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitlab_sim.generator import TRICKY_CASES, generate, minimum_tricky, tricky_case_counts
from gitlab_sim.golden import golden_world
from gitlab_sim.world import VISIBILITY_LEVEL, World


def test_a_world_survives_a_json_round_trip(tmp_path: Path) -> None:
    world = generate(seed=4, users=20, groups=10, projects=40)
    path = tmp_path / "world.json"
    world.save(path)
    again = World.load(path)
    assert again.to_json() == world.to_json()
    assert json.loads(path.read_text())["projects"][0]["files"]["README.md"]["content"]


def test_the_same_seed_gives_the_same_world() -> None:
    assert generate(9).to_json() == generate(9).to_json()
    assert generate(9).to_json() != generate(10).to_json()


@pytest.mark.parametrize(("seed", "projects"), [(1, 50), (2, 50), (3, 400), (4, 2000)])
def test_generated_worlds_hold_every_tricky_case(seed: int, projects: int) -> None:
    world = generate(
        seed, users=max(20, projects // 50), groups=max(15, projects // 60), projects=projects
    )
    counts = tricky_case_counts(world)
    minimum = minimum_tricky(projects)
    missing = {case: counts[case] for case in TRICKY_CASES if counts[case] < minimum}
    assert not missing, f"seed {seed}: below {minimum}: {missing}"


@pytest.mark.parametrize(
    "world", [generate(5, projects=300), golden_world()], ids=["gen", "golden"]
)
def test_worlds_follow_gitlabs_structural_rules(world: World) -> None:
    for group in world.groups:
        if group.parent_id is not None:
            parent = world.group_by_id[group.parent_id]
            assert VISIBILITY_LEVEL[group.visibility] <= VISIBILITY_LEVEL[parent.visibility]
    for project in world.projects:
        if project.namespace_kind == "group":
            group = world.group_by_id[project.namespace_id]
            assert VISIBILITY_LEVEL[project.visibility] <= VISIBILITY_LEVEL[group.visibility]
    paths = [world.project_full_path(p).lower() for p in world.projects]
    assert len(paths) == len(set(paths))
    for membership in world.memberships:
        if membership.access_level == 5:  # Minimal Access: top-level groups only
            assert membership.source_type == "group"
            assert world.group_by_id[membership.source_id].parent_id is None
