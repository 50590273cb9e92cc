"""The download proxy, on the real API and the simulated GitLab: items point at it, GitLab
judges every byte with the caller's own credentials (labstac refuses first what the caller
may not see), Range/HEAD/ETag pass through, a 1 GiB LFS object streams with flat API memory,
and a client that goes away mid-stream leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

import httpx
import pytest
from hostile_stack import rss_kib
from web_stack import BIG, BIG_SIZE, WINE_ID, WebStack, token_of

from gitlab_sim.blobs import generated_bytes

pytestmark = pytest.mark.services

WINE_ITEM = "/collections/ai-model/items/wine-co/wine-quality"


def headers(user: str | None) -> dict[str, str]:
    return {"PRIVATE-TOKEN": token_of(user)} if user else {}


def wine_item(stack: WebStack) -> dict[str, Any]:
    answer = httpx.get(f"{stack.stac}{WINE_ITEM}", headers=headers("bob"), timeout=30)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def raw_calls(stack: WebStack) -> int:
    return int(stack.sim.app.stats.calls.get("repository_file_raw", 0))


def test_item_assets_point_at_the_proxy_and_gitlab_decides(stack: WebStack) -> None:
    item = wine_item(stack)
    model = item["assets"]["model/classifier.joblib"]["href"]
    assert (
        model
        == f"{stack.api.url}/download/projects/{WINE_ID}/files/model/classifier.joblib?ref=main"
    )
    assert item["assets"]["preview.png"]["href"].startswith(f"{stack.api.url}/download/")
    expected = stack.world.project_by_id[WINE_ID].files["model/classifier.joblib"].lfs_content
    # bob reads the private project: the LFS object itself, as an attachment.
    got = httpx.get(model, headers=headers("bob"), timeout=30)
    assert got.status_code == 200 and got.text == expected
    assert got.headers["content-disposition"].startswith('attachment; filename="classifier.joblib"')
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "sandbox"
    # Anonymous and alice (not a member of wine-co): refused by labstac, GitLab not asked.
    before = raw_calls(stack)
    for user in (None, "alice"):
        refused = httpx.get(model, headers=headers(user), timeout=30)
        assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert raw_calls(stack) == before
    assert got.headers["cache-control"] == "private, no-cache"  # fetched with bob's token
    # Dot segments would reach another GitLab endpoint: refused.
    dotted = httpx.get(f"{stack.api.url}/download/projects/{WINE_ID}/files/model/..",
                       headers=headers("bob"))  # fmt: skip
    assert dotted.status_code in (400, 404)
    # A file that does not exist in a project bob reads: GitLab's 404, passed on.
    missing = httpx.get(model.replace("classifier", "nothing"), headers=headers("bob"))
    assert missing.status_code == 404


def test_the_thumbnail_is_an_image_and_the_release_archive_downloads(stack: WebStack) -> None:
    thumbnail = httpx.get(wine_item(stack)["assets"]["preview.png"]["href"], headers=headers("bob"))
    assert thumbnail.status_code == 200 and thumbnail.content.startswith(b"\x89PNG")
    assert thumbnail.headers["content-type"] == "image/png"
    assert thumbnail.headers["content-disposition"].startswith("inline")
    mapper = httpx.get(f"{stack.stac}/collections/processor/items/eo-lab/processors/flood-mapper",
                       headers=headers("alice"), timeout=30).json()  # fmt: skip
    archive = httpx.get(mapper["assets"]["release"]["href"], headers=headers("alice"), timeout=30)
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert any(name.endswith("/app.py") for name in names)


def test_range_head_and_etag_pass_through(stack: WebStack) -> None:
    url = f"{stack.api.url}/download/projects/{WINE_ID}/files/{BIG}?ref=main"
    first = b"".join(generated_bytes(BIG, 0, 100))
    part = httpx.get(url, headers={**headers("bob"), "Range": "bytes=10-49"}, timeout=30)
    assert part.status_code == 206 and part.content == first[10:50]
    assert part.headers["content-range"] == f"bytes 10-49/{BIG_SIZE}"
    tail = httpx.get(url, headers={**headers("bob"), "Range": "bytes=-16"}, timeout=30)
    assert tail.content == b"".join(generated_bytes(BIG, BIG_SIZE - 16, BIG_SIZE))
    beyond = httpx.get(url, headers={**headers("bob"), "Range": f"bytes={BIG_SIZE}-"})
    assert beyond.status_code == 416
    head = httpx.head(url, headers=headers("bob"), timeout=30)
    assert head.status_code == 200 and head.headers["content-length"] == str(BIG_SIZE)
    assert head.content == b""
    tag = head.headers["etag"]
    unchanged = httpx.get(url, headers={**headers("bob"), "If-None-Match": tag}, timeout=30)
    assert unchanged.status_code == 304 and unchanged.content == b""


def test_a_gigabyte_streams_with_flat_memory(stack: WebStack) -> None:
    url = f"{stack.api.url}/download/projects/{WINE_ID}/files/{BIG}?ref=main"
    pid = stack.api.process.pid
    before = rss_kib(pid)
    digest, size, peak = hashlib.sha256(), 0, 0
    with httpx.stream("GET", url, headers=headers("bob"), timeout=60) as answer:
        assert answer.status_code == 200
        for chunk in answer.iter_bytes(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            if size % (64 << 20) < len(chunk):
                peak = max(peak, rss_kib(pid))
    expected = hashlib.sha256()
    for chunk in generated_bytes(BIG, 0, BIG_SIZE):
        expected.update(chunk)
    assert size == BIG_SIZE and digest.hexdigest() == expected.hexdigest()
    grown_mib = (max(peak, rss_kib(pid)) - before) / 1024
    print(f"API resident memory: {before / 1024:.0f} MiB before, {grown_mib:.1f} MiB more "
          "at most while streaming 1024 MiB")  # fmt: skip
    assert grown_mib < 64


def test_a_client_that_goes_away_mid_stream_leaves_nothing_behind(stack: WebStack) -> None:
    url = f"{stack.api.url}/download/projects/{WINE_ID}/files/{BIG}?ref=main"
    pid = stack.api.process.pid
    before = rss_kib(pid)
    for _ in range(5):
        with httpx.stream("GET", url, headers=headers("bob"), timeout=60) as answer:
            received = 0
            for chunk in answer.iter_bytes(1 << 20):
                received += len(chunk)
                if received >= 32 << 20:
                    break  # leave with most of the gigabyte unread
    assert stack.api.process.poll() is None
    assert httpx.get(f"{stack.api.url}/healthz", timeout=10).status_code == 200
    again = httpx.get(url, headers={**headers("bob"), "Range": "bytes=0-9"}, timeout=30)
    assert again.status_code == 206
    assert (rss_kib(pid) - before) / 1024 < 64
