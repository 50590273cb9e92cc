"""Comparing the index with a simulated GitLab world: what documents the world calls for,
and every way the index differs from it."""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch

from gitlab_sim.world import Project, World
from indexer.index.layout import ensure_index
from indexer.index.runtime import IndexRuntime
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of
from indexer.stac.front_matter import parse_readme

VISIBILITY = {"private": 0, "internal": 10, "public": 20}


def expected_documents(world: World) -> dict[str, Project]:
    return {
        f"{category.id}:{project.id}": project
        for project in world.projects
        if project.repository_access_level != "disabled"
        for category in categories_of(project.topics, DEFAULT_CATEGORIES)
    }


def expected_title(project: Project) -> str:
    """The README front matter's title wins over the project's name (SharingHub's rule)."""
    readme = project.files.get("README.md")
    title = parse_readme(readme.content if readme else None).metadata.get("title")
    return title if isinstance(title, str) else project.name


def indexed(client: OpenSearch, runtime: IndexRuntime) -> dict[str, dict[str, Any]]:
    client.indices.refresh(index=runtime.layout.read_alias)
    source = ["id", "collection", "_acl", "properties.title"]
    return {
        hit["_id"]: hit["_source"]
        for hit in runtime.engine.documents(runtime.layout.read_alias, source)
    }


def index_differences(client: OpenSearch, runtime: IndexRuntime, world: World) -> list[str]:
    want = expected_documents(world)
    have = indexed(client, runtime)
    problems = [f"missing {key}" for key in sorted(set(want) - set(have))]
    problems += [f"extra {key}" for key in sorted(set(have) - set(want))]
    for key in sorted(set(want) & set(have)):
        project, document = want[key], have[key]
        acl = document["_acl"]
        checks = {
            "id": (document["id"], world.project_full_path(project)),
            "title": (document["properties"]["title"], expected_title(project)),
            "ancestors": (acl["ancestor_ids"], list(world.project_ancestor_group_ids(project))),
            "visibility": (acl["visibility"], VISIBILITY[project.visibility]),
            "members-only": (
                acl["repository_private"],
                project.repository_access_level == "private",
            ),
        }
        problems += [
            f"{key} {name}: index {got!r}, GitLab {expected!r}"
            for name, (got, expected) in checks.items()
            if got != expected
        ]
    return problems


def assert_index_equals_world(client: OpenSearch, runtime: IndexRuntime, world: World) -> None:
    problems = index_differences(client, runtime, world)
    assert not problems, "\n".join(problems[:20])


def fresh_documents(runtime: IndexRuntime, client: OpenSearch) -> dict[str, dict[str, Any]]:
    """What a rebuild from GitLab gives now, in an index of its own."""
    fresh = IndexRuntime(runtime.settings.model_copy(
        update={"index_prefix": f"{runtime.settings.index_prefix}fresh"}
    ))  # fmt: skip
    try:
        ensure_index(fresh.engine, fresh.layout)
        assert fresh.rebuild().run().swapped
        return comparable_documents(fresh, client)
    finally:
        client.indices.delete(index=f"{fresh.layout.prefix}-items-v*", ignore_unavailable=True)
        client.indices.delete_index_template(name=f"{fresh.layout.prefix}-items", ignore=[404])
        fresh.close()


def comparable_documents(runtime: IndexRuntime, client: OpenSearch) -> dict[str, dict[str, Any]]:
    client.indices.refresh(index=runtime.layout.read_alias)
    source = ["id", "collection", "_acl", "properties.title", "properties.keywords"]
    documents = {}
    for hit in runtime.engine.documents(runtime.layout.read_alias, source):
        document = hit["_source"]
        document["_acl"] = {k: v for k, v in document["_acl"].items() if k != "version"}
        documents[hit["_id"]] = document
    return documents
