"""pystac-client 0.9, unmodified, against the live API: the catalog, collections and their
items, search with every parameter it sends, paging both ways, counts, queryables and
collection search; each answer checked against what the demo world holds for that user."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from client_stack import ClientStack
from pystac_client import Client
from pystac_client.exceptions import APIError

from gitlab_sim.demo import TOKENS
from gitlab_sim.permissions import Caller, Oracle
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of

pytestmark = pytest.mark.services


def client(stack: ClientStack, user: str | None = "root") -> Client:
    return Client.open(stack.stac, headers=stack.headers(user) if user else None)


def expected(stack: ClientStack, user: str | None, collection: str | None = None) -> set[str]:
    """Item ids (project paths) the oracle says ``user`` may see, in one collection or any."""
    world = stack.world
    token = world.token_by_value[TOKENS[user]] if user else None
    oracle = Oracle(world, Caller.with_token(world, token) if token else Caller.anonymous())
    return {
        world.project_full_path(project)
        for project in world.projects
        if oracle.can_read_repository(project)
        for category in categories_of(project.topics, DEFAULT_CATEGORIES)
        if collection in (None, category.id)
    }


def test_the_catalog_and_its_collections(stack: ClientStack) -> None:
    catalog = client(stack)
    assert catalog.id == "labstac"
    ids = [collection.id for collection in catalog.get_collections()]
    assert ids == ["ai-model", "dataset", "processor", "tools", "dashboard"]
    dataset = catalog.get_collection("dataset")
    assert dataset.title == "Datasets"


@pytest.mark.parametrize("user", ["root", "alice", "bob", "carol", None])
def test_collection_items_are_what_gitlab_shows_each_user(
    stack: ClientStack, user: str | None
) -> None:
    catalog = client(stack, user)
    for collection in catalog.get_collections():
        # pystac-client sends collections=<id> to /collections/<id>/items
        found = {item.id for item in collection.get_items()}
        assert found == expected(stack, user, collection.id), collection.id


def test_one_item_by_id_from_its_collection(stack: ClientStack) -> None:
    dataset = client(stack).get_collection("dataset")
    found = dataset.get_item("eo-lab/data/sen1floods11")
    assert found is not None and found.collection_id == "dataset"
    assert found.geometry is not None


def test_items_of_another_collection_are_refused_clearly(stack: ClientStack) -> None:
    response = httpx.get(f"{stack.stac}/collections/dataset/items",
                         params={"collections": "ai-model"}, timeout=30)  # fmt: skip
    assert response.status_code == 400
    assert "this is collection dataset" in response.json()["description"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_search_with_every_parameter(stack: ClientStack, method: str) -> None:
    catalog = client(stack)
    common: dict[str, Any] = {"method": method, "max_items": 50}
    by_id = catalog.search(ids=["eo-lab/data/sen1floods11"], **common)
    assert [i.id for i in by_id.items()] == ["eo-lab/data/sen1floods11"]
    models = catalog.search(collections=["ai-model"], **common)
    assert {i.id for i in models.items()} == expected(stack, "root", "ai-model")
    in_box = catalog.search(bbox=[-67, 17, -65, 19], **common)
    assert {i.id for i in in_box.items()} == {
        "eo-lab/models/flood-segmentation", "eo-lab/data/sen1floods11",
    }  # fmt: skip
    point = {"type": "Point", "coordinates": [2.0, 43.5]}
    assert {i.id for i in catalog.search(intersects=point, **common).items()} == {
        "eo-lab/coastline-model", "eo-lab/data/sen1floods11",
    }  # fmt: skip
    # Time ranges overlap: Sen1Floods11 covers 2016-2019.
    in_2017 = {i.id for i in catalog.search(datetime="2017-01-01/2017-12-31", **common).items()}
    assert "eo-lab/data/sen1floods11" in in_2017
    assert "wine-co/wine-quality" not in in_2017  # 2025-2026
    by_query = catalog.search(query={"license": {"eq": "MIT"}}, **common)
    assert {i.id for i in by_query.items()} == {"wine-co/wine-quality"}
    by_filter = catalog.search(filter="license = 'CC-BY-4.0'", filter_lang="cql2-text", **common)
    assert {i.id for i in by_filter.items()} == {"eo-lab/data/sen1floods11"}
    sorted_by_title = catalog.search(collections=["dataset"], sortby="+title", **common)
    titles = [i.properties["title"] for i in sorted_by_title.items()]
    assert titles == sorted(titles) and len(titles) > 3
    slim = catalog.search(ids=["eo-lab/data/sen1floods11"], fields=["-assets"], **common)
    (only,) = slim.items_as_dicts()
    assert "assets" not in only and only["properties"]["start_datetime"]
    # GET: the whole item without assets; POST (pystac-client sends an empty include list,
    # which stac-api-validator requires to mean the smallest item): without the title.
    assert ("title" in only["properties"]) == (method == "GET")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_paging_and_counts(stack: ClientStack, method: str) -> None:
    search = client(stack).search(collections=["dataset"], limit=2, method=method)
    everything = expected(stack, "root", "dataset")
    assert search.matched() == len(everything)
    pages = list(search.pages_as_dicts())
    assert [f["id"] for page in pages for f in page["features"]] != []
    assert {f["id"] for page in pages for f in page["features"]} == everything
    assert all(page["features"] for page in pages)  # never an empty page at the end
    assert len(pages) == -(-len(everything) // 2)


def test_an_exactly_full_last_page_has_no_next_link(stack: ClientStack) -> None:
    count = len(expected(stack, "root", "dataset"))
    page = httpx.get(f"{stack.stac}/collections/dataset/items", params={"limit": count},
                     headers=stack.headers("root"), timeout=30).json()  # fmt: skip
    assert len(page["features"]) == count
    assert [ln["rel"] for ln in page["links"] if ln["rel"] in ("next", "prev", "first")] == []


@pytest.mark.parametrize("path", ["/search", "/collections/dataset/items"])
def test_prev_and_first_links_lead_back(stack: ClientStack, path: str) -> None:
    headers = stack.headers("root")
    url: str | None = f"{stack.stac}{path}?limit=2&sortby=%2Btitle"
    forward: list[list[str]] = []
    page: dict[str, Any] = {}
    while url:
        page = httpx.get(url, headers=headers, timeout=30).json()
        forward.append([f["id"] for f in page["features"]])
        url = next((ln["href"] for ln in page["links"] if ln["rel"] == "next"), None)
    assert len(forward) >= 3
    backward = [[f["id"] for f in page["features"]]]
    while prev := next((ln["href"] for ln in page["links"] if ln["rel"] == "prev"), None):
        page = httpx.get(prev, headers=headers, timeout=30).json()
        backward.append([f["id"] for f in page["features"]])
    assert backward[::-1] == forward  # the same pages, in the same order, back to the first
    assert not any(ln["rel"] == "first" for ln in page["links"])  # it is the first page
    second = httpx.get(f"{stack.stac}{path}?limit=2&sortby=%2Btitle", headers=headers,
                       timeout=30).json()  # fmt: skip
    after = next(ln["href"] for ln in second["links"] if ln["rel"] == "next")
    first = next(ln["href"] for ln in httpx.get(after, headers=headers, timeout=30).json()["links"]
                 if ln["rel"] == "first")  # fmt: skip
    assert [f["id"] for f in httpx.get(first, headers=headers, timeout=30).json()["features"]] == (
        forward[0]
    )


def test_post_paging_links_carry_their_bodies(stack: ClientStack) -> None:
    headers = stack.headers("root")
    body = {"collections": ["dataset"], "limit": 2}
    first = httpx.post(f"{stack.stac}/search", json=body, headers=headers, timeout=30).json()
    following = next(ln for ln in first["links"] if ln["rel"] == "next")
    second = httpx.post(following["href"], json={**body, **following["body"]}, headers=headers,
                        timeout=30).json()  # fmt: skip
    back = next(ln for ln in second["links"] if ln["rel"] == "prev")
    again = httpx.post(back["href"], json={**body, **back["body"]}, headers=headers,
                       timeout=30).json()  # fmt: skip
    assert [f["id"] for f in again["features"]] == [f["id"] for f in first["features"]]
    start = next(ln for ln in second["links"] if ln["rel"] == "first")
    assert start["body"] == body and "merge" not in start


def test_queryables(stack: ClientStack) -> None:
    catalog = client(stack)
    everywhere = catalog.get_queryables()
    assert {"id", "datetime", "license", "mlm:architecture", "version"} <= set(
        everywhere["properties"]
    )
    datasets = catalog.get_collection("dataset").get_queryables()
    assert "label:type" in datasets["properties"]


def test_collection_extents_follow_the_items(stack: ClientStack) -> None:
    dataset = client(stack).get_collection("dataset")
    bbox = dataset.extent.spatial.bboxes[0]
    # Sen1Floods11 spans [-180, -60, 180, 75]: the extent must not turn inside out.
    assert bbox == pytest.approx([-180, -60, 180, 75], abs=1e-6)
    interval = dataset.extent.temporal.intervals[0]
    assert interval[0] is not None and interval[0].year == 2016  # Sen1Floods11's start
    models = client(stack).get_collection("ai-model").extent.temporal.intervals[0]
    assert models[0] is not None and models[0].year == 2021  # Flood segmentation's start


def test_collection_search(stack: ClientStack) -> None:
    catalog = client(stack)
    around_greenwich = catalog.collection_search(bbox=[-1, 40, 1, 45])
    assert "dataset" in {c.id for c in around_greenwich.collections()}
    by_text = catalog.collection_search(q="Datasets")
    assert [c.id for c in by_text.collections()] == ["dataset"]
    matched = catalog.collection_search(datetime="2017-01-01/2017-12-31")
    assert "dataset" in {c.id for c in matched.collections()}
    assert matched.matched() is not None


def test_a_bad_request_is_an_api_error_with_the_reason(stack: ClientStack) -> None:
    with pytest.raises(APIError, match="bbox"):
        list(client(stack).search(bbox=[10, 10, 0, 95], method="GET").items())
