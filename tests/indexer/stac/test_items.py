"""Items built from project snapshots, as a SharingHub user expects them, valid against the
STAC 1.1 item schema and the schemas of the extensions they declare (offline), and built
from whatever is valid when the README is not."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from stac_validation import validation_errors

from api.stac_links import item_links
from indexer.gitlab.snapshot import ProjectSnapshot, TreeEntry
from indexer.stac.categories import DEFAULT_CATALOG
from indexer.stac.items import ItemBuilder

READMES = Path(__file__).resolve().parents[2] / "fixtures" / "readmes"
GITLAB = "https://gitlab.example.com"
AI_MODEL = DEFAULT_CATALOG.by_id("ai-model")
DATASET = DEFAULT_CATALOG.by_id("dataset")
FILES = [
    "README.md", "models/flood.onnx", "models/old.pt", "samples/a/b/scene.tif", "scene.tif",
    "docs/preview.png", "docs/model-card.md", ".dvc/config", "data/labels.geojson",
    ".gitlab/preview.png", ".gitlab/example.ipynb",
]  # fmt: skip


def project(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": 42,
        "name": "Flood model",
        "name_with_namespace": "Space Apps / Flood model",
        "path_with_namespace": "space-apps/eo/flood-model",
        "description": "Maps floods.",
        "topics": ["sharinghub:aimodel", "sharinghub:dataset", "flood", "sar"],
        "default_branch": "main",
        "created_at": "2023-02-01T10:00:00.000Z",
        "last_activity_at": "2024-05-06T07:08:09.000Z",
        "star_count": 7,
        "web_url": f"{GITLAB}/space-apps/eo/flood-model",
        "license": {"key": "apache-2.0", "name": "Apache License 2.0"},
        "license_url": f"{GITLAB}/space-apps/eo/flood-model/-/blob/main/LICENSE",
        "namespace": {"id": 3, "name": "eo", "full_path": "space-apps/eo", "kind": "group"},
    }
    values.update(changes)
    return values


def snapshot(readme: str | None, files: list[str] = FILES, **changes: Any) -> ProjectSnapshot:
    release = {"tag_name": "v1.2.0", "name": "Spring", "description": "Better recall."}
    return ProjectSnapshot(
        project=project(**changes),
        readme=readme,
        tree=tuple(TreeEntry(path, "blob") for path in files),
        latest_release=release,
        readme_path="README.md",
    )


def build(name: str | None, category: Any = AI_MODEL, **changes: Any) -> dict[str, Any]:
    readme = (READMES / f"{name}.md").read_text() if name else None
    assert category is not None
    return ItemBuilder(DEFAULT_CATALOG, GITLAB).build(snapshot(readme, **changes), category)


STAC = "https://labstac.example.com/api/v1/stac"


def served(item: dict[str, Any]) -> dict[str, Any]:
    """The item as the API serves it: with the links it makes per request."""
    return {**item, "links": item_links(STAC, item)}


def links(item: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    return [link for link in item["links"] if link["rel"] == rel]


def test_an_item_uses_every_front_matter_key() -> None:
    item = build("full")
    properties = item["properties"]
    assert validation_errors(served(item)) == []
    assert item["id"] == "space-apps/eo/flood-model"
    assert item["collection"] == "ai-model"
    assert item["stac_version"] == "1.1.0"
    # identity, dates, text
    assert properties["title"] == "Flood segmentation on Sentinel-1"
    # The heading that repeats the title goes; relative images and links become GitLab's.
    description = properties["description"]
    assert description.startswith("A U-Net that maps flooded areas")
    web = f"{GITLAB}/space-apps/eo/flood-model"
    assert f"[the model card]({web}/-/blob/main/docs/model-card.md#metrics)" in description
    assert f"[the labels]({web}/-/blob/main/data/labels.geojson)" in description
    assert "[GitLab's docs](https://docs.gitlab.com/)" in description
    assert "[the top](#flood-segmentation-on-sentinel-1)" in description
    assert f'![preview]({web}/-/raw/main/.gitlab/preview.png "the latest")' in description
    assert f'<img src="{web}/-/raw/main/docs/diagram.svg" alt="architecture">' in description
    assert properties["datetime"] == "2024-05-06T07:08:09Z"
    assert properties["created"] == "2023-02-01T10:00:00Z"
    assert properties["updated"] == "2024-05-06T07:08:09Z"
    assert properties["start_datetime"] == "2021-01-01T00:00:00Z"
    assert properties["end_datetime"] == "2023-12-31T23:59:59Z"
    assert properties["keywords"] == ["flood", "sar"]
    # extent
    assert item["bbox"] == pytest.approx([-66.6407, 17.9823, -66.5902, 18.0299])
    assert item["geometry"]["type"] == "Polygon"
    # license and providers
    assert properties["license"] == "CC-BY-4.0"
    assert links(item, "license") == [
        {"rel": "license", "href": "https://creativecommons.org/licenses/by/4.0/"}
    ]
    names = [(p["name"], p["roles"]) for p in properties["providers"]]
    assert names[0] == ("CS Group", ["producer", "licensor"])
    assert names[1] == (f"GitLab ({GITLAB})", ["host"])
    assert len(names) == 2  # a producer was given: none added
    # extensions
    assert properties["mlm:architecture"] == "U-Net"
    assert properties["eo:cloud_cover"] == 0
    assert properties["label:type"] == "raster"
    assert properties["version"] == "1.2.0"  # the Version extension's own, unprefixed
    assert properties["sci:doi"] == "10.5281/zenodo.1234567"
    assert properties["sci:citation"] == "Flood mapping with radar"
    assert properties["sci:publications"] == [
        {"doi": "10.1109/CVPRW50498.2020.00113", "citation": "Sen1Floods11"}
    ]
    assert set(item["stac_extensions"]) == {
        "https://stac-extensions.github.io/mlm/v1.4.0/schema.json",
        "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
        "https://stac-extensions.github.io/label/v1.0.1/schema.json",
        "https://stac-extensions.github.io/version/v1.2.0/schema.json",
        "https://stac-extensions.github.io/scientific/v1.0.0/schema.json",
    }
    assert links(item, "cite-as") == [
        {"rel": "cite-as", "href": "https://doi.org/10.5281/zenodo.1234567"}
    ]
    # sharinghub and other keys
    assert properties["sharinghub:id"] == 42
    assert properties["sharinghub:path"] == "space-apps/eo/flood-model"
    assert properties["sharinghub:stars"] == 7
    assert properties["sharinghub:default-branch"] == "main"
    assert properties["sharinghub:map-viewer"] == "disable"  # the README overrides the category
    assert properties["sharinghub:dvc-init"] == "enable"
    assert properties["gsd"] == 10 and properties["platform"] == "sentinel-1"
    assert "labstac:warnings" not in properties


def test_assets_follow_the_rules_and_point_to_gitlab() -> None:
    item = build("full")
    assets = item["assets"]
    raw = f"{GITLAB}/api/v4/projects/42/repository/files"
    assert assets["weights"]["href"] == f"{raw}/models%2Fflood.onnx/raw?ref=main&lfs=true"
    assert assets["weights"]["title"] == "ONNX weights (models/flood.onnx)"
    assert assets["weights"]["roles"] == ["data", "mlm:model"]
    assert assets["weights"]["mlm:artifact_type"] == "onnx"
    # the category's own rule for .pt files
    assert assets["models/old.pt"]["mlm:artifact_type"] == "torch.save"
    # ** spans directories; the rule's type-as wins
    assert assets["samples/a/b/scene.tif"]["type"].endswith("profile=cloud-optimized")
    assert "scene.tif" not in assets  # not under samples/
    assert assets["visual"]["href"] == "https://storage.example.com/visual.tif"
    assert assets["release"] == {
        "href": f"{GITLAB}/api/v4/projects/42/repository/archive.zip?sha=v1.2.0",
        "title": "Release v1.2.0: Spring",
        "description": "Better recall.",
        "roles": ["source"],
        "type": "application/zip",
    }
    # The README's last image titled "preview" wins over the front matter; its key has the
    # file's extension, and a path starting with a dot keeps it.
    assert "preview" not in assets
    assert assets["preview.png"]["roles"] == ["thumbnail"]
    assert assets["preview.png"]["type"] == "image/png"
    assert assets["preview.png"]["href"] == f"{raw}/.gitlab%2Fpreview.png/raw?ref=main&lfs=true"
    for asset in assets.values():
        assert "token" not in asset["href"]


def test_links_are_absolute_and_say_where_things_are() -> None:
    item = build("full")
    assert links(item, "via")[0]["href"] == f"{GITLAB}/space-apps/eo/flood-model"
    assert links(item, "bug_tracker")[0]["href"].endswith("/flood-model/issues")
    assert links(item, "documentation")[0]["href"] == "https://example.com/docs/flood"
    model_card = links(item, "describedby")[0]["href"]
    assert model_card.startswith(
        f"{GITLAB}/api/v4/projects/42/repository/files/docs%2Fmodel-card.md"
    )
    example = links(item, "example")[0]["href"]
    assert example.startswith(f"{GITLAB}/api/v4/projects/42/repository/files/.gitlab%2Fexample")
    # related projects, and links of the <collection>+<url> form: their STAC items
    sen1floods11 = f"{STAC}/collections/dataset/items/eo/sen1floods11"
    assert links(served(item), "derived_from") == [
        {"rel": "derived_from", "href": sen1floods11, "type": "application/geo+json"},
        {"rel": "derived_from", "href": sen1floods11, "type": "application/geo+json",
         "title": "dataset: eo/sen1floods11"},
    ]  # fmt: skip
    assert not links(item, "self") and not links(item, "root")  # made per request by the API
    assert all(link["href"].startswith("https://") for link in served(item)["links"])


def test_a_project_without_readme_still_makes_a_valid_item() -> None:
    item = build(None, category=DATASET)
    properties = item["properties"]
    assert validation_errors(served(item)) == []
    assert properties["title"] == "Flood model"
    assert properties["description"] == "Maps floods."
    assert properties["license"] == "Apache-2.0"
    assert links(item, "license")[0]["href"].endswith("/-/blob/main/LICENSE")
    assert item["geometry"] is None and "bbox" not in item
    assert properties["providers"][-1] == {
        "name": "Space Apps",
        "roles": ["producer"],
        "url": f"{GITLAB}/space-apps",
    }
    # the dataset category's rules
    assert "data/labels.geojson" in item["assets"] and "scene.tif" in item["assets"]


def test_broken_yaml_yields_an_item_and_a_warning_with_the_line() -> None:
    item = build("broken-yaml")
    warnings = item["properties"]["labstac:warnings"]
    assert validation_errors(served(item)) == []
    assert len(warnings) == 1 and warnings[0].startswith("README front matter is not YAML at line")
    assert item["properties"]["title"] == "Flood model"  # the project's name, front matter lost
    assert "The rest of the README is fine." in item["properties"]["description"]


def test_wrong_values_are_left_out_and_each_is_said() -> None:
    item = build("broken-values")
    properties = item["properties"]
    warnings = "\n".join(properties["labstac:warnings"])
    assert validation_errors(served(item)) == []
    assert properties["title"] == "Wrong values everywhere"
    assert item["geometry"] is None  # longitude 200
    assert "outside longitude" in warnings
    assert "extent.temporal" in warnings  # the project's life instead
    assert properties["start_datetime"] == "2023-02-01T10:00:00Z"
    assert properties["end_datetime"] == "2024-05-06T07:08:09Z"
    assert "providers must be a list" in warnings
    assert "each link needs an href" in warnings
    assert "related dataset: 'not-a-url' is not a project URL" in warnings
    assert "README asset rule 1: the glob must be a string" in warnings
    assert "README asset rule 2 needs a glob, or a key and an absolute href" in warnings
    assert "README asset rule 3 is neither a glob nor a mapping" in warnings
    assert "extension 'bad' needs a schema URL" in warnings
    assert "'mlm' must be a mapping" in warnings
    assert "datetime is not an ISO 8601 date" in warnings
    # queryables the index types: a wrong type is dropped rather than failing the indexing
    assert "gsd must be a number" in warnings and "gsd" not in properties
    assert "instruments must be a list of values" in warnings and "instruments" not in properties
    assert "platform must be a string" in warnings and "platform" not in properties
    assert properties["datetime"] == "2024-05-06T07:08:09Z"


def test_yaml_shorthand_is_kept_in_the_type_the_index_expects() -> None:
    properties = build("yaml-shorthand")["properties"]
    assert properties["constellation"] == "2.1"  # YAML read a number
    assert properties["platform"] == "8"
    assert properties["instruments"] == ["sar"]  # one value where a list is meant
    assert properties["label:tasks"] == ["segmentation"]
    assert "labstac:warnings" not in properties


@pytest.mark.parametrize("name", ["wkt", "bowtie"])
def test_wkt_extents_become_valid_geometries(name: str) -> None:
    item = build(name, category=DATASET)
    assert validation_errors(served(item)) == []
    assert item["bbox"] == [0.0, 0.0, 2.0, 2.0]
    assert item["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert item["properties"]["keywords"] == ["flood", "radar"] if name == "wkt" else True


def front_matter(text: str) -> str:
    return f"---\n{text}\n---\nBody.\n"


def build_from(readme: str, category: Any = AI_MODEL, **changes: Any) -> dict[str, Any]:
    assert category is not None
    return ItemBuilder(DEFAULT_CATALOG, GITLAB).build(snapshot(readme, **changes), category)


@pytest.mark.parametrize(
    ("temporal", "start", "end"),
    [
        (None, "2023-02-01T10:00:00Z", "2024-05-06T07:08:09Z"),  # the project's life
        ('["2020-01-01T00:00:00Z", null]', "2020-01-01T00:00:00Z", "2024-05-06T07:08:09Z"),
        ('["2025-01-01T00:00:00Z", null]', "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        ('[null, "2020-06-01T00:00:00Z"]', "2020-06-01T00:00:00Z", "2020-06-01T00:00:00Z"),
        ('[null, "2024-01-01T00:00:00Z"]', "2023-02-01T10:00:00Z", "2024-01-01T00:00:00Z"),
    ],
)
def test_an_item_always_has_both_ends_of_its_time_range(
    temporal: str | None, start: str, end: str
) -> None:
    readme = front_matter(f"extent:\n  temporal: {temporal}") if temporal else "Body."
    properties = build_from(readme)["properties"]
    assert (properties["start_datetime"], properties["end_datetime"]) == (start, end)
    assert validation_errors(served(build_from(readme))) == []


def test_a_start_set_alone_in_the_front_matter_gets_an_end() -> None:
    properties = build_from(front_matter('start_datetime: "2019-05-05T00:00:00Z"'))["properties"]
    assert properties["start_datetime"] == "2019-05-05T00:00:00Z"
    assert properties["end_datetime"] == "2024-05-06T07:08:09Z"


def test_a_project_in_two_categories_has_the_same_assets_in_both() -> None:
    builder = ItemBuilder(DEFAULT_CATALOG, GITLAB)
    both = [AI_MODEL, DATASET]
    made = snapshot(None)
    as_model = builder.build(made, AI_MODEL, both)  # type: ignore[arg-type]
    as_dataset = builder.build(made, DATASET, both)  # type: ignore[arg-type]
    assert as_model["assets"] == as_dataset["assets"]
    assert "models/old.pt" in as_model["assets"]  # an ai-model rule
    assert "data/labels.geojson" in as_model["assets"]  # a dataset rule


def test_polygons_are_counterclockwise_with_the_readmes_coordinates() -> None:
    clockwise = "POLYGON((1.5 43.25, 1.5 44.125, 2.75 44.125, 2.75 43.25, 1.5 43.25))"
    item = build_from(front_matter(f'extent:\n  spatial: "{clockwise}"'))
    ring = item["geometry"]["coordinates"][0]
    assert ring == [[1.5, 43.25], [2.75, 43.25], [2.75, 44.125], [1.5, 44.125], [1.5, 43.25]]
    world = build_from(front_matter("extent:\n  spatial: [-180, -60, 180, 75]"))
    assert shoelace(world["geometry"]["coordinates"][0]) > 0


def shoelace(ring: list[list[float]]) -> float:
    """Twice the signed area: positive for a counterclockwise ring."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))
