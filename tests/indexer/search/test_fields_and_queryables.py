"""The fields extension, the queryables table and CQL2 bboxes, as pure functions (the API
tests run them over HTTP against a live index)."""

from __future__ import annotations

import copy
import itertools

from indexer.search.fields_extension import FieldSelection
from indexer.search.filter_extension import filter_clause
from indexer.search.request import bbox_shape
from indexer.stac.queryables import in_use

ITEM = {
    "type": "Feature", "stac_version": "1.1.0", "id": "lab/model", "links": [],
    "geometry": None, "bbox": None, "assets": {"weights": {"href": "w.onnx"}},
    "properties": {"datetime": "2026-01-01T00:00:00Z", "title": "A model",
                   "a": {"kept": 1, "secret": 2}},
}  # fmt: skip


def fresh() -> dict[str, object]:
    return copy.deepcopy(ITEM)


def test_an_exclusion_inside_a_surviving_include_holds_in_any_order() -> None:
    excludes = ["properties", "properties.a.secret"]
    for order in itertools.permutations(excludes):
        selected = FieldSelection(("properties.a",), tuple(order)).apply(fresh())
        assert selected["properties"] == {"a": {"kept": 1}}, order


def test_include_wins_over_the_same_exclude_and_identity_stays() -> None:
    selected = FieldSelection(("bbox",), ("bbox", "id", "links")).apply(fresh())
    assert set(selected) == {"type", "stac_version", "id", "links", "bbox"}


def test_extension_queryables_follow_any_version_of_the_extension() -> None:
    newer_mlm = "https://stac-extensions.github.io/mlm/v1.5.2/schema.json"
    names = set(in_use([newer_mlm]))
    assert {"mlm:framework", "mlm:tasks", "datetime"} <= names
    assert not {n for n in names if n.startswith(("label:", "ml-model:"))}
    assert not {n for n in in_use([]) if ":" in n}


def test_a_cql2_bbox_is_the_same_area_as_the_bbox_parameter() -> None:
    def shape(bbox: list[float]) -> object:
        tree = {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": bbox}]}
        return filter_clause(tree, "cql2-json", None)["geo_shape"]["geometry"]["shape"]

    # heights dropped, not read as corners; across the antimeridian, two envelopes
    assert shape([0, 1, 5, 10, 11, 50]) == bbox_shape((0, 1, 10, 11))
    assert shape([170, -10, -170, 10])["type"] == "geometrycollection"
