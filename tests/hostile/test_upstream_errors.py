"""Input that used to reach OpenSearch and come back as 503 ``upstream_unavailable`` (an
outage to monitoring, a reason to retry for clients): it is the client's mistake, and a 400
that says which. What still reaches the engine and is refused by it is a 400 too."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hostile_stack import HostileStack, assert_refused

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    return make_stack()


def search(stack: HostileStack, **params: Any) -> httpx.Response:
    return httpx.get(f"{stack.stac}/search", params=params, timeout=30)


def post(stack: HostileStack, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{stack.stac}/search", json=body, timeout=30)


def test_comparisons_must_match_the_queryables_types(stack: HostileStack) -> None:
    assert_refused(search(stack, filter="updated > 'abc'"), mentions="is a date-time")
    assert_refused(search(stack, filter="datetime > 'abc'"), mentions="is a date-time")
    assert_refused(search(stack, filter="gsd > 'ten'"), mentions="is a number")
    assert_refused(search(stack, filter="deprecated = 'yes'"), mentions="true or false")
    assert_refused(search(stack, filter="T_AFTER(title, TIMESTAMP('2020-01-01T00:00:00Z'))"))
    assert_refused(post(stack, {"query": {"gsd": {"lt": "ten"}}}), mentions="is a number")
    assert_refused(post(stack, {"query": {"datetime": {"gt": "soon"}}}), mentions="is a date-time")
    # The right types still search.
    assert search(stack, filter="gsd > 5 AND updated > TIMESTAMP('2001-01-01T00:00:00Z')")\
        .status_code == 200  # fmt: skip
    assert search(stack, filter="version = 1.2").status_code == 200  # a number, for text


NESTED = {"type": "GeometryCollection", "geometries": []}


def test_geometries_are_checked_before_the_engine(stack: HostileStack) -> None:
    refused = [
        {"type": "Point", "coordinates": [1000, 1000]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},  # unclosed
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},  # three positions
        {"type": "GeometryCollection", "geometries": []},
        {"type": "GeometryCollection", "geometries": [NESTED]},
        {"type": "LineString", "coordinates": [[0, 0]]},
        {"type": "Point", "coordinates": [0, "1"]},
        {"type": "Point", "coordinates": [0, True]},
        {"type": "Point"},
        {"type": "Circle", "coordinates": [0, 0]},
        {"type": "MultiPoint", "coordinates": [[0, 0]] * 60_000},
    ]
    for geometry in refused:
        assert_refused(post(stack, {"intersects": geometry}))
        if len(json.dumps(geometry)) < 4000:  # what fits a URL
            assert_refused(search(stack, intersects=json.dumps(geometry)))
    assert_refused(search(stack, filter="S_INTERSECTS(geometry, POINT(1000 1000))"))
    assert_refused(search(stack, filter="S_INTERSECTS(geometry, BBOX(0, 0, 1000, 1))"))


def test_bboxes_across_the_antimeridian_and_flat_ones_search(stack: HostileStack) -> None:
    for bbox in ("180,0,-180,10", "170,-10,-170,10", "10,5,20,5", "0,0,0,0"):
        found = search(stack, bbox=bbox)
        assert found.status_code == 200, (bbox, found.text)
    assert search(stack, filter="S_INTERSECTS(geometry, BBOX(180, 0, -180, 10))")\
        .status_code == 200  # fmt: skip
    for bbox in ("1,2,3", "nan,0,1,1", "inf,0,1,1", "0,10,1,5", "-181,0,0,1"):
        assert_refused(search(stack, bbox=bbox), mentions="bbox")


def test_page_tokens_of_the_wrong_shape_are_refused(stack: HostileStack) -> None:
    def token(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    for value in ([{"a": 1}, "b"], [1], [1, 2, 3], "text", [[1], "x"], [True, "x"], None):
        assert_refused(search(stack, token=token(value)), mentions="page token")
    assert_refused(search(stack, token="%%%"), mentions="page token")
    assert_refused(search(stack, token="é"), mentions="page token")
    assert_refused(post(stack, {"token": 5}), mentions="token")


def test_lists_terms_and_patterns_are_bounded(stack: HostileStack) -> None:
    assert_refused(post(stack, {"ids": [f"p{n}" for n in range(5000)]}), mentions="at most 1000")
    assert_refused(post(stack, {"collections": ["x"] * 2000}), mentions="at most 1000")
    assert_refused(post(stack, {"q": [f"word{n}" for n in range(3000)]}), mentions="at most 32")
    assert_refused(search(stack, q=",".join(f"w{n}" for n in range(100))), mentions="at most 32")
    in_list = "id IN (" + ",".join(f"'p{n}'" for n in range(1500)) + ")"
    assert_refused(post(stack, {"filter": in_list, "filter-lang": "cql2-text"}), mentions="1000")
    assert_refused(search(stack, filter="title LIKE '" + "_" * 2000 + "'"))
    assert_refused(search(stack, filter="title LIKE '" + "%a" * 40 + "'"), mentions="at most 16")
    assert_refused(post(stack, {"ids": ["x" * 5000]}), mentions="longer than 2048")
    # Patterns within the bounds search.
    many_lists = " OR ".join(
        "id IN (" + ",".join(f"'p{n}'" for n in range(100)) + ")" for _ in range(20)
    )
    assert_refused(
        post(stack, {"filter": many_lists, "filter-lang": "cql2-text"}),
        mentions="more than 1000 values in all",
    )
    assert search(stack, filter="title LIKE '%flood%'").status_code == 200
    assert search(stack, filter="title LIKE 'a\\_b%'").status_code == 200


def test_open_intervals_mean_what_they_say(stack: HostileStack) -> None:
    token = {"PRIVATE-TOKEN": stack.token("user1")}

    def matched(text: str) -> int:
        found = httpx.get(f"{stack.stac}/search", params={"filter": text}, headers=token)
        assert found.status_code == 200, found.text
        return int(found.json()["numberMatched"])

    everything = matched("collection IS NULL OR NOT collection IS NULL")
    assert matched("T_AFTER(datetime, INTERVAL('2020-01-01T00:00:00Z', '..'))") == 0
    assert matched("T_BEFORE(datetime, INTERVAL('..', '2020-01-01T00:00:00Z'))") == 0
    assert matched("T_INTERSECTS(datetime, INTERVAL('..', '..'))") == everything


def test_what_the_engine_still_refuses_is_a_400_not_an_outage(stack: HostileStack) -> None:
    # Valid GeoJSON whose ring has no area: only the engine tells, and it refuses it.
    flat = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}
    body = assert_refused(post(stack, {"intersects": flat}))
    assert body["description"].startswith("the search engine refused this search:"), body
    assert "orientation" in body["description"], body
    assert "labstac-" not in body["description"] and "index" not in body["description"]
    stack.assert_api_alive()
