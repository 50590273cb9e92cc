"""Nesting no parser may recurse into: CQL2 text and JSON, JSON bodies and JSON-valued
parameters. Before the limits, 2,000 parentheses in one anonymous GET crashed the API
process (a segfault in the CQL2 parser), and 900 NOTs or a deep body were 500s."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hostile_stack import HostileStack, assert_refused, rss_kib

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    return make_stack()


def deep_not(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"op": "=", "args": [{"property": "id"}, "x"]}
    for _ in range(depth):
        node = {"op": "not", "args": [node]}
    return node


def test_cql2_text_nested_thousands_deep_is_refused_before_parsing(stack: HostileStack) -> None:
    deep = "(" * 2000 + "id = 'a'" + ")" * 2000  # a 12 KB URL, no token
    for _ in range(3):  # once crashed the process: three in a row must all be answered
        assert_refused(
            httpx.get(f"{stack.stac}/search", params={"filter": deep}, timeout=30),
            mentions="parentheses deeper than 20",
        )
        assert_refused(
            httpx.post(f"{stack.stac}/search", json={"filter": deep, "filter-lang": "cql2-text"}),
            mentions="parentheses deeper than 20",
        )
    stack.assert_api_alive()


def test_nesting_without_parentheses_never_reaches_the_event_loops_stack(
    stack: HostileStack,
) -> None:
    """The parser recurses on unary minus signs and NOTs too: 4,000 of them crashed the
    process. It runs on a stack of its own now; what it gives back is bounded again."""
    for text in (
        "gsd = " + "-" * 19_990 + "1",
        "NOT " * 4_990 + "id = 'a'",
        '"a\'" = 1 OR ' + "(" * 2000 + "gsd = 1" + ")" * 2000,  # a quote hiding brackets
    ):
        response = httpx.post(
            f"{stack.stac}/search", json={"filter": text, "filter-lang": "cql2-text"}, timeout=60
        )
        assert response.status_code in (200, 400), response.text[:300]
    stack.assert_api_alive()


def test_chains_of_not_and_long_filters_are_refused(stack: HostileStack) -> None:
    nots = "NOT " * 900 + "id = 'a'"
    assert_refused(
        httpx.get(f"{stack.stac}/search", params={"filter": nots}), mentions="deeper than 20"
    )
    # NOT inside other operators and strings is no nesting.
    words = " AND ".join(["platform IS NOT NULL"] * 25) + " AND title <> 'not " + "not " * 30 + "'"
    assert httpx.get(f"{stack.stac}/search", params={"filter": words}).status_code == 200
    huge = " OR ".join(f"id = 'p{n}'" for n in range(2000))  # 27 KB, flat
    assert_refused(
        httpx.post(f"{stack.stac}/search", json={"filter": huge, "filter-lang": "cql2-text"}),
        mentions="longer than 20000 characters",
    )
    many = " OR ".join(f"id = 'p{n}'" for n in range(400))  # short enough, too many nodes
    assert_refused(
        httpx.post(f"{stack.stac}/search", json={"filter": many, "filter-lang": "cql2-text"}),
        mentions="more than 300 operators and values",
    )
    stack.assert_api_alive()


def test_cql2_json_nested_deep_is_refused_in_a_body_and_in_a_parameter(
    stack: HostileStack,
) -> None:
    for depth in (25, 10_000):
        tree = deep_not(depth)
        # as JSON text in a query string, and inside a JSON body
        text = json.dumps(tree) if depth < 1000 else "[" * 3000 + "]" * 3000
        assert_refused(
            httpx.get(f"{stack.stac}/search", params={"filter": text, "filter-lang": "cql2-json"})
        )
    body = '{"filter-lang": "cql2-json", "filter": ' + json.dumps(deep_not(25)) + "}"
    assert_refused(
        httpx.post(
            f"{stack.stac}/search", content=body, headers={"Content-Type": "application/json"}
        )
    )
    stack.assert_api_alive()


def test_deep_json_anywhere_is_a_400(stack: HostileStack) -> None:
    deep = "[" * 3000 + "]" * 3000
    refusals = [
        httpx.post(f"{stack.stac}/search", content=deep),
        httpx.post(f"{stack.stac}/search", content='{"query": ' + deep + "}"),
        httpx.post(f"{stack.stac}/search", content='{"intersects": ' + deep + "}"),
        httpx.get(f"{stack.stac}/search", params={"intersects": deep}),
        httpx.get(f"{stack.stac}/search", params={"query": deep}),
        httpx.get(f"{stack.stac}/search", params={"token": "W" * 20 + "[" * 2000}),
        httpx.post(f"{stack.api.url}/hooks/gitlab", content=deep,
                   headers={"X-Gitlab-Token": "hostile-secret-0123456789"}),
    ]  # fmt: skip
    for response in refusals:
        assert_refused(response)
    stack.assert_api_alive()


def test_a_filter_within_its_bounds_works_over_post_as_over_get(stack: HostileStack) -> None:
    node: dict[str, Any] = {"op": "=", "args": [{"property": "collection"}, "dataset"]}
    for _ in range(15):
        node = {"op": "and", "args": [node, {"op": "isNull", "args": [{"property": "title"}]}]}
    node = {"op": "not", "args": [node]}
    token = {"PRIVATE-TOKEN": stack.token("user1")}
    got = httpx.get(
        f"{stack.stac}/search", params={"filter": json.dumps(node), "filter-lang": "cql2-json"},
        headers=token,
    )  # fmt: skip
    posted = httpx.post(f"{stack.stac}/search", json={"filter": node}, headers=token)
    assert got.status_code == posted.status_code == 200, (got.text, posted.text)
    assert got.json()["numberMatched"] == posted.json()["numberMatched"]


def test_reasonable_filters_still_work(stack: HostileStack) -> None:
    token = stack.token("user1")
    nested = "(" * 10 + "collection = 'dataset'" + ")" * 10
    for params in (
        {"filter": nested},
        {"filter": "NOT (collection = 'dataset') AND NOT (collection = 'tools')"},
        {"filter": json.dumps(deep_not(4)), "filter-lang": "cql2-json"},
    ):
        found = httpx.get(
            f"{stack.stac}/search", params=params, headers={"PRIVATE-TOKEN": token}, timeout=30
        )
        assert found.status_code == 200, found.text
    memory = rss_kib(stack.api.process.pid)
    assert memory < 300 * 1024, f"the API holds {memory} KiB"
