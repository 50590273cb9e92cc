"""Sizes: what one request may ask for (``fields`` with thousands of names stalled the API's
event loop for 20 s and more), and how much of a README an item is built from (a README may
be a Git LFS object of any size; an item is cut down to a size every page can carry)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from hostile_stack import (
    HostileStack,
    assert_refused,
    catalogued_projects,
    group_rss_kib,
    push_readme,
    warnings_of,
    with_worker,
)

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    return with_worker(make_stack(item_max_bytes=16 * 1024))


def test_fields_lists_are_bounded_and_cheap(stack: HostileStack) -> None:
    names = {
        "include": [f"properties.a{n}" for n in range(3000)],
        "exclude": [f"properties.b{n}" for n in range(3000)],
    }
    started = time.monotonic()
    assert_refused(
        httpx.post(f"{stack.stac}/search", json={"limit": 100, "fields": names}, timeout=30),
        mentions="at most 100",
    )
    assert_refused(
        httpx.get(f"{stack.stac}/search", params={"fields": ",".join(["-assets"] * 500)}),
        mentions="at most 100",
    )
    assert time.monotonic() - started < 5
    # The most a request may ask for: 100 names, 1,000 items; answered promptly.
    most = {"include": [f"properties.a{n}" for n in range(50)],
            "exclude": [f"properties.a{n}.b" for n in range(50)]}  # fmt: skip
    token = {"PRIVATE-TOKEN": stack.token("user1")}
    started = time.monotonic()
    page = httpx.post(
        f"{stack.stac}/search", json={"limit": 1000, "fields": most}, headers=token, timeout=30
    )
    assert page.status_code == 200, page.text
    assert time.monotonic() - started < 5
    # An in-bounds page still goes through the fields extension as before.
    kept = {"type", "stac_version", "id", "links", "properties"}
    assert all(set(f) <= kept and not f["properties"] for f in page.json()["features"])


def test_a_huge_readme_is_read_only_up_to_the_limit(stack: HostileStack) -> None:
    project = catalogued_projects(stack.world)[0]
    front = "---\nnote: start of a very long README\n---\n# Long\n"
    push_readme(stack, project, front + "lorem ipsum " * 500_000)  # 6 MB
    item = stack.wait_for_item(
        project, lambda i: "lorem ipsum" in i["properties"].get("description", "")
    )
    assert len(item["properties"]["description"]) <= 20_000
    assert group_rss_kib(stack.workers[0].process.pid) < 700 * 1024
    # The reader stops at the limit: the rest of the object is never transferred.
    reader = stack.runtime.reader()
    reader.readme_max_bytes = 4096
    snapshot = reader.snapshot(reader.project(project))
    assert snapshot.readme is not None and len(snapshot.readme.encode()) == 4096
    assert snapshot.readme.startswith(front)


def test_an_item_is_cut_to_its_size_limit_with_warnings(stack: HostileStack) -> None:
    project = catalogued_projects(stack.world)[1]
    extra = "".join(f"free{n}: {'x' * 200}\n" for n in range(200))  # 40 KB of properties
    push_readme(stack, project, f"---\n{extra}---\n# Big\n" + "words " * 3000)
    item = stack.wait_for_item(project, lambda i: bool(warnings_of(i)))
    assert not any(key.startswith("free") for key in item["properties"])
    assert any("larger than 16384 bytes" in w for w in warnings_of(item))
    token = {"PRIVATE-TOKEN": stack.token("user1")}
    found = httpx.get(f"{stack.stac}/search", params={"ids": item["id"]}, headers=token)
    assert len(found.content) < 24_000
