"""The real OpenSearch node carries what labstac relies on: the item mapping applies,
geo_shape intersects queries work (modules/geo), `_update_by_query` with a painless script
works (modules/reindex, modules/lang-painless), and `_acl` rejects unknown fields."""

from __future__ import annotations

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError

pytestmark = pytest.mark.services

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}
FAR_SQUARE = {
    "type": "Polygon",
    "coordinates": [[[50, 50], [52, 50], [52, 52], [50, 52], [50, 50]]],
}


def item(key: str, geometry: dict[str, object] | None, project_id: int) -> dict[str, object]:
    return {
        "doc_key": key,
        "id": f"group/project-{project_id}",
        "collection": key.split(":", maxsplit=1)[0],
        "type": "Feature",
        "stac_version": "1.1.0",
        "geometry": geometry,
        "bbox": [0, 0, 2, 2],
        "properties": {
            "datetime": "2024-05-01T00:00:00Z",
            "title": f"Project {project_id}",
            # Front matter a user wrote: must never break indexing.
            "any:thing": {"nested": [1, "two", {"three": 3.0}]},
        },
        "links": [{"rel": "self", "href": "http://example.com"}],
        "assets": {},
        "_acl": {
            "project_id": project_id,
            "visibility": 20,
            "repository_private": False,
            "ancestor_ids": [1, 2],
            "share_ids": [],
            "version": 1,
        },
    }


def test_geo_shape_intersects_finds_only_the_overlapping_item(
    opensearch_client: OpenSearch, items_index: str
) -> None:
    opensearch_client.index(index=items_index, body=item("dataset:1", SQUARE, 1), id="dataset:1")
    opensearch_client.index(
        index=items_index, body=item("dataset:2", FAR_SQUARE, 2), id="dataset:2"
    )
    opensearch_client.index(index=items_index, body=item("dataset:3", None, 3), id="dataset:3")
    opensearch_client.indices.refresh(index=items_index)

    point_inside = {"type": "Point", "coordinates": [1.0, 1.5]}
    result = opensearch_client.search(
        index=items_index,
        body={
            "query": {
                "bool": {
                    "filter": [
                        {
                            "geo_shape": {
                                "geometry": {"shape": point_inside, "relation": "intersects"}
                            }
                        }
                    ]
                }
            }
        },
    )
    assert [hit["_id"] for hit in result["hits"]["hits"]] == ["dataset:1"]


def test_update_by_query_runs_a_painless_script(
    opensearch_client: OpenSearch, items_index: str
) -> None:
    for project_id in (1, 2, 3):
        key = f"ai-model:{project_id}"
        opensearch_client.index(index=items_index, body=item(key, SQUARE, project_id), id=key)
    opensearch_client.indices.refresh(index=items_index)

    response = opensearch_client.update_by_query(
        index=items_index,
        body={
            "query": {"terms": {"_acl.project_id": [1, 3]}},
            "script": {"lang": "painless", "source": "ctx._source._acl.visibility = 0"},
        },
        refresh=True,
    )
    assert response["updated"] == 2
    private = opensearch_client.search(
        index=items_index, body={"query": {"term": {"_acl.visibility": 0}}}
    )
    assert sorted(hit["_id"] for hit in private["hits"]["hits"]) == ["ai-model:1", "ai-model:3"]


def test_acl_is_strict(opensearch_client: OpenSearch, items_index: str) -> None:
    document = item("dataset:9", SQUARE, 9)
    document["_acl"] = {**document["_acl"], "is_admin": True}  # type: ignore[dict-item]
    with pytest.raises(RequestError) as caught:
        opensearch_client.index(index=items_index, body=document, id="dataset:9")
    assert caught.value.error == "strict_dynamic_mapping_exception"


def test_the_node_carries_the_modules_labstac_needs(opensearch_client: OpenSearch) -> None:
    modules = {
        module["name"]
        for node in opensearch_client.nodes.info(metric="plugins")["nodes"].values()
        for module in node["modules"]
    }
    assert {"geo", "reindex", "lang-painless", "analysis-common"} <= modules
