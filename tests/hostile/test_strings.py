"""Text that is not valid Unicode, and documents labstac cannot serve. A README string
holding a lone surrogate used to be indexed as is; from then on every search page with that
item answered 503, the access pass and the full reconcile failed for the whole index, and
fixing the README did not heal it. Now every string is made valid before it is written, and
a bad document already stored never fails a page, a reconcile or a reindex: it is served
mended (or left out), logged, counted, and healed by the next re-index of its project."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hostile_stack import HostileStack, catalogued_projects, push_readme, warnings_of, with_worker
from support import LABSTAC_BIN, OPENSEARCH_URL, settings_env

pytestmark = pytest.mark.services
BAD = "\\ud800"  # the six characters of a JSON (and YAML) escape of a lone surrogate


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    return with_worker(make_stack())


def test_a_readme_with_a_lone_surrogate_is_indexed_as_valid_text(stack: HostileStack) -> None:
    project = catalogued_projects(stack.world)[0]
    push_readme(stack, project, f'---\nnote: "before {BAD} after"\n---\n# Note\n')
    item = stack.wait_for_item(project, lambda i: "note" in i["properties"])
    assert item["properties"]["note"] == "before \ufffd after"
    everything = httpx.get(
        f"{stack.stac}/search", params={"limit": 100},
        headers={"PRIVATE-TOKEN": stack.token("user1")},
    )  # fmt: skip
    assert everything.status_code == 200
    stack.runtime.reconcile_plan()
    stack.runtime.reconcile_plan(access_only=True)


def live_index(stack: HostileStack) -> str:
    alias = stack.runtime.layout.read_alias
    return stack.runtime.engine.alias_targets(alias)[alias][0]


def write_raw(index: str, doc_id: str, text: str | bytes, version: int) -> None:
    """Store a document's JSON text as given, straight into the engine, as another writer
    (or an older labstac) could have."""
    stored = httpx.put(
        f"{OPENSEARCH_URL}/{index}/_doc/{doc_id}",
        params={"version": version, "version_type": "external_gte", "refresh": "true"},
        content=text,
        headers={"Content-Type": "application/json"},
    )
    assert stored.status_code in (200, 201), stored.text


def poison(stack: HostileStack, project_id: int) -> str:
    """Put a lone surrogate into the stored item of a project; returns the item's id."""
    index = live_index(stack)
    found = httpx.post(
        f"{OPENSEARCH_URL}/{index}/_search",
        json={"query": {"term": {"_acl.project_id": project_id}}, "version": True},
    ).json()["hits"]["hits"][0]
    source = found["_source"]
    source["properties"]["note"] = "POISON"
    # As labstac's writer once sent a README's string: the surrogate encoded as UTF-8 would
    # be (ED A0 80), which is not valid UTF-8. In a property the index does not map, the
    # engine stores it, and then cannot parse the document again to filter its source.
    text = json.dumps(source).encode().replace(b'"POISON"', b'"poisoned \xed\xa0\x80 note"')
    write_raw(index, found["_id"], text, found["_version"])
    return str(source["id"])


def metric(stack: HostileStack, name: str) -> float:
    for line in httpx.get(f"{stack.api.url}/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def public_projects(stack: HostileStack) -> list[int]:
    return [
        p for p in catalogued_projects(stack.world)
        if stack.world.project_by_id[p].visibility == "public"
        and stack.world.project_by_id[p].repository_access_level == "enabled"
    ]  # fmt: skip


def test_a_poisoned_stored_document_fails_no_page_no_reconcile_no_reindex(
    stack: HostileStack,
) -> None:
    project = public_projects(stack)[0]
    item_id = poison(stack, project)
    # A document labstac cannot render at all: written by something else.
    stray: dict[str, Any] = {
        "doc_key": "dataset:424242",
        "_acl": {"project_id": 424242, "visibility": 20, "repository_private": False,
                 "ancestor_ids": [], "share_ids": [], "guest_share_ids": [], "version": 1},
    }  # fmt: skip
    write_raw(live_index(stack), "dataset:424242", json.dumps(stray), 1)
    repaired, skipped = (
        metric(stack, f"labstac_documents_{k}_total") for k in ("repaired", "skipped")
    )

    # Search: the pages that hold them are served, the poisoned item mended.
    one = httpx.get(f"{stack.stac}/search", params={"ids": item_id}, timeout=30)
    assert one.status_code == 200, one.text
    assert one.json()["features"][0]["properties"]["note"] == "poisoned \ufffd note"
    pages, url = 0, f"{stack.stac}/search?limit=5"
    admin = {"PRIVATE-TOKEN": stack.token("user1")}
    while url:
        page = httpx.get(url, headers=admin, timeout=30)
        assert page.status_code == 200, page.text
        assert all("doc_key" not in f and "_acl" not in f for f in page.json()["features"])
        url = next((ln["href"] for ln in page.json()["links"] if ln["rel"] == "next"), "")
        pages += 1
    assert pages > 1
    assert metric(stack, "labstac_documents_repaired_total") > repaired
    assert metric(stack, "labstac_documents_skipped_total") > skipped
    assert "a stored document cannot be served" in stack.api.log()

    # Reconcile: both passes run, and send the poisoned project to be re-indexed.
    full = stack.runtime.reconcile_plan()
    assert project in full.stale and 424242 in full.gone
    access = stack.runtime.reconcile_plan(access_only=True)
    assert project in access.stale

    # The re-index heals it.
    stack.runtime.project_sync().sync(project)
    stack.runtime.engine.refresh(live_index(stack))
    healed = httpx.get(f"{stack.stac}/search", params={"ids": item_id}, timeout=30)
    assert "poisoned" not in healed.json()["features"][0]["properties"].get("note", "")

    # And a rebuild from GitLab runs with the bad documents in the live index.
    poison(stack, project)
    rebuilt = subprocess.run(
        [LABSTAC_BIN, "reindex", "--concurrency", "2"],
        env=settings_env(stack.settings), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    after = httpx.get(f"{stack.stac}/search", params={"ids": item_id}, timeout=30)
    assert "poisoned" not in after.json()["features"][0]["properties"].get("note", "")
    stack.assert_api_alive()


def test_a_url_cannot_forge_a_text_log_line(make_stack: Callable[..., HostileStack]) -> None:
    texts = make_stack(log_format="text")
    forged = "/api/v1/stac/collections/x%0a2026-01-01 00:00:00,000 INFO FORGED%0d%1b[2J"
    assert httpx.get(f"{texts.api.url}{forged}").status_code == 404
    lines = texts.api.log().splitlines()
    assert not any("FORGED" in line and "collections" not in line for line in lines), lines[-5:]
    assert any("x\\n2026-01-01 00:00:00,000 INFO FORGED\\r\\x1b[2J" in line for line in lines)


def test_warnings_name_what_was_mended(stack: HostileStack) -> None:
    project = catalogued_projects(stack.world)[1]
    push_readme(stack, project, f'---\n"{BAD}key": "{BAD}"\n---\n# Keys\n')
    item = stack.wait_for_item(project, lambda i: "\ufffdkey" in i["properties"])
    assert item["properties"]["\ufffdkey"] == "\ufffd"
    assert not any("Unicode" in w for w in warnings_of(item))  # mended while reading YAML
