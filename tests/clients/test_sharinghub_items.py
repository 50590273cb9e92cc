"""Items as SharingHub 0.4.0 builds them (app/stac/api/build.py), one test per rule that
labstac once got wrong, read through the live API from projects the simulator serves; and
every item of the world valid against the STAC and extension schemas, offline."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from client_stack import ClientStack
from stac_validation import validation_errors

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from indexer.index.runtime import IndexRuntime

pytestmark = pytest.mark.services


def item(stack: ClientStack, collection: str, path: str, user: str = "root") -> dict[str, Any]:
    response = httpx.get(
        f"{stack.stac}/collections/{collection}/items/{path}",
        headers=stack.headers(user), timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def links(found: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    return [link for link in found["links"] if link["rel"] == rel]


def raw(stack: ClientStack, project_id: int, path: str) -> str:
    """A repository file's href, as items are served: through labstac's download proxy."""
    return f"{stack.api.url}/download/projects/{project_id}/files/{path}?ref=main"


def test_1_the_preview_asset_is_keyed_by_its_extension_and_the_last_preview_wins(
    stack: ClientStack,
) -> None:
    coast = item(stack, "ai-model", "eo-lab/coastline-model")
    assert "preview" not in coast["assets"]
    assert coast["assets"]["preview.png"]["href"] == raw(stack, 100, ".gitlab/preview.png")
    assert coast["assets"]["preview.png"]["roles"] == ["thumbnail"]
    assert links(coast, "preview")[0]["href"] == raw(stack, 100, ".gitlab/preview.png")
    flood = item(stack, "ai-model", "eo-lab/models/flood-segmentation")
    assert set(flood["assets"]) >= {"preview.png"}


def test_2_time_ranges_have_both_ends_from_the_readme_or_the_project(stack: ClientStack) -> None:
    # No temporal extent in the README: the project's life.
    wine = item(stack, "ai-model", "wine-co/wine-quality")["properties"]
    assert (wine["start_datetime"], wine["end_datetime"]) == (
        "2025-01-15T09:00:00Z", "2026-05-02T16:00:00Z",
    )  # fmt: skip
    # An open end: the project's last activity.
    coast = item(stack, "ai-model", "eo-lab/coastline-model")["properties"]
    assert (coast["start_datetime"], coast["end_datetime"]) == (
        "2022-03-01T00:00:00Z", "2026-02-01T00:00:00Z",
    )  # fmt: skip


def test_3_related_projects_link_to_their_stac_items(stack: ClientStack) -> None:
    flood = item(stack, "ai-model", "eo-lab/models/flood-segmentation")
    related = links(flood, "derived_from")
    href = f"{stack.stac}/collections/dataset/items/eo-lab/data/sen1floods11"
    assert related == [{"rel": "derived_from", "href": href, "type": "application/geo+json",
                        "title": "dataset: eo-lab/data/sen1floods11"}]  # fmt: skip
    followed = httpx.get(href, headers=stack.headers("root"), timeout=30)
    assert followed.status_code == 200 and followed.json()["id"] == "eo-lab/data/sen1floods11"


def test_4_doi_links_give_a_citation_and_publications(stack: ClientStack) -> None:
    coast = item(stack, "ai-model", "eo-lab/coastline-model")
    properties = coast["properties"]
    assert properties["sci:doi"] == "10.1000/coast-1"
    assert properties["sci:citation"] == "Coastlines from space"
    assert properties["sci:publications"] == [{"doi": "10.1000/shore-2", "citation": "Shorelines"}]
    assert links(coast, "cite-as")[0]["href"] == "https://doi.org/10.1000/coast-1"


def test_5_a_project_in_two_categories_has_the_assets_of_both_in_each(stack: ClientStack) -> None:
    as_model = item(stack, "ai-model", "eo-lab/flood-emulator")
    as_dataset = item(stack, "dataset", "eo-lab/flood-emulator")
    assert as_model["assets"] == as_dataset["assets"]
    assert {"model/weights.pt", "data/flood.geojson"} <= set(as_model["assets"])


def signed_area(ring: list[list[float]]) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))


def test_6_outer_rings_are_counterclockwise_with_the_readmes_coordinates(
    stack: ClientStack,
) -> None:
    coast = item(stack, "ai-model", "eo-lab/coastline-model")
    ring = coast["geometry"]["coordinates"][0]
    assert signed_area(ring) > 0
    assert sorted(map(tuple, ring[:-1])) == [(1.5, 43.25), (1.5, 44.125), (2.75, 43.25),
                                             (2.75, 44.125)]  # fmt: skip
    world_wide = item(stack, "dataset", "eo-lab/data/sen1floods11")
    assert signed_area(world_wide["geometry"]["coordinates"][0]) > 0


def test_7_version_is_the_version_extensions_own_property_and_queryable(
    stack: ClientStack,
) -> None:
    coast = item(stack, "ai-model", "eo-lab/coastline-model")
    assert coast["properties"]["version"] == "2.1"  # YAML read a number
    assert (
        "https://stac-extensions.github.io/version/v1.2.0/schema.json" in coast["stac_extensions"]
    )
    queryables = httpx.get(f"{stack.stac}/queryables", headers=stack.headers("root"), timeout=30)
    assert "version" in queryables.json()["properties"]
    found = httpx.get(f"{stack.stac}/search", params={"filter": "version = '2.1'"},
                      headers=stack.headers("root"), timeout=30).json()  # fmt: skip
    assert [f["id"] for f in found["features"]] == ["eo-lab/coastline-model"]


def test_8_collection_plus_url_links_resolve_to_the_stac_item(stack: ClientStack) -> None:
    coast = item(stack, "ai-model", "eo-lab/coastline-model")
    href = f"{stack.stac}/collections/dataset/items/eo-lab/data/sen1floods11"
    assert {"rel": "derived_from", "href": href, "type": "application/geo+json"} in coast["links"]


def test_descriptions_drop_the_repeated_title_and_resolve_relative_references(
    stack: ClientStack,
) -> None:
    description = item(stack, "ai-model", "eo-lab/coastline-model")["properties"]["description"]
    web = f"{stack.sim.url}/eo-lab/coastline-model"
    assert not description.startswith("# Coastline model")
    assert f"[the model card]({web}/-/blob/main/docs/card.md)" in description
    # Images, as served: through labstac's download proxy, like the assets.
    assert f"![diagram]({raw(stack, 100, 'docs/diagram.svg')})" in description
    assert f"![preview]({raw(stack, 100, '.gitlab/preview.png')})" in description


def test_every_item_of_the_demo_world_validates_offline(stack: ClientStack) -> None:
    response = httpx.get(f"{stack.stac}/search", params={"limit": 200},
                         headers=stack.headers("root"), timeout=30)  # fmt: skip
    features = response.json()["features"]
    assert len(features) == response.json()["numberMatched"] > 20
    assert any(f["geometry"] and f["geometry"]["type"] == "Polygon" for f in features)
    problems = {f["id"]: validation_errors(f) for f in features}
    assert {k: v for k, v in problems.items() if v} == {}


def test_every_item_of_a_generated_world_validates_offline(
    make_runtime: Any, start_api: Any
) -> None:
    world = generate(seed=77, users=10, groups=6, projects=80)
    with SimulatorServer(world) as sim:
        runtime: IndexRuntime = make_runtime(sim, token_name="admin-mode")
        assert runtime.rebuild().run().swapped
        api = start_api(runtime.settings)
        admin = world.token_named(1, "admin-mode").token
        url: str | None = f"{api.url}/api/v1/stac/search?limit=100"
        features: list[dict[str, Any]] = []
        while url:
            page = httpx.get(url, headers={"PRIVATE-TOKEN": admin}, timeout=30).json()
            features += page["features"]
            url = next((ln["href"] for ln in page["links"] if ln["rel"] == "next"), None)
    assert len(features) >= 40
    assert any(f["geometry"] for f in features)
    problems = {f["id"]: validation_errors(f) for f in features}
    assert {k: v for k, v in problems.items() if v} == {}
