"""The peer for search benchmarks: stac-fastapi-opensearch, run from its own virtualenv.

Imported by the search benchmark; ``python bench/peer.py selftest`` checks it end to end
(install, start, load synthetic items, query, stop, clean up).

What runs
---------
- ``stac-fastapi-opensearch==8.0.0`` (with ``stac-fastapi-core`` and ``sfeos-helpers`` 8.0.0
  as it pins them) and ``opensearch-py==3.2.0``: the newest client the peer allows
  (``<3.3``), the same one labstac uses, and it works against OpenSearch 3.8.0 as is.
- ``uvicorn==0.54.0`` without extras, as in labstac's virtualenv: both APIs then run on the
  same server (asyncio loop, h11), so the comparison measures the applications. (The peer's
  ``[server]`` extra would add uvloop and httptools.)
- One process: ``python -m uvicorn stac_fastapi.opensearch.app:create_app --factory
  --workers 1 --no-access-log``. 8.0.0 has no module-level ``app`` any more; ``create_app``
  with ``--factory`` is its documented entry point. Its module still builds one extra app at
  import (``handler = create_handler(create_app())``), which counts in its memory.
  No access log, as labstac runs (``access_log=False``); the peer's own INFO logging stays.

Environment (all else is the peer's default: no Redis, no rate limit, no direct response,
no STAC validator, no datetime-split indices)
- ``ES_HOST=127.0.0.1``, ``ES_PORT=9200``: the local OpenSearch.
- ``ES_USE_SSL=false``: the default is https; ``ES_VERIFY_CERTS=false`` for good measure.
- ``STAC_COLLECTIONS_INDEX=peer-sfeos-collections`` and
  ``STAC_ITEMS_INDEX_PREFIX=peer-sfeos-items_``: its own names (defaults ``collections``
  and ``items_``), so it never meets labstac's or the tests' indices. Its alias prefix
  follows the items prefix. At start-up it puts two index templates,
  ``template_peer-sfeos-collections`` and ``template_peer-sfeos-items_``, and the index
  ``peer-sfeos-collections-000001`` (alias ``peer-sfeos-collections``); each collection
  gets an index ``peer-sfeos-items_<id>_<uuid>`` with the alias ``peer-sfeos-items_<id>``.
- ``ENABLE_TRANSACTIONS_EXTENSIONS=true`` (the default, made explicit): loading goes
  through its own write path.
- ``REDIS_ENABLE=false`` (the default, explicit): no response or paging cache. Its
  queryables and sortables caches (TTL 1800 s) are in-process mapping caches, not responses.

Ingestion (its own HTTP path)
- ``POST /collections`` with the collection JSON (pydantic-validated; 201, 409 if it
  exists: ``load`` then deletes it through ``DELETE /collections/{id}`` and posts again).
- ``POST /collections/{id}/bulk_items`` with ``{"items": {item_id: item, ...},
  "method": "insert"}``: ``items`` is a plain dict, not validated by default; the path
  collection is written into each item; it answers 200 with ``{"received", "success",
  "skipped", "errors": [{"id", "msg"}]}``, errors (mapping failures, conflicts) per item
  rather than a failed request. ``load`` treats any error as a refusal and raises.
  The writes do not refresh (``DATABASE_REFRESH=false`` by default): ``load`` refreshes
  the peer's indices through OpenSearch before it counts. (A single item, or an
  ItemCollection, also goes to ``POST /collections/{id}/items``: pydantic-validated, and a
  refusal by the engine there is a bare 500.)

What it refuses or changes (selftest probes; both write paths alike)
- ``geometry: null`` is ACCEPTED, with ``bbox: null`` or without a bbox: stored as is,
  never found by ``bbox``/``intersects``. Read back, ``bbox: null`` stays null through
  ``bulk_items`` and becomes ``[]`` through ``POST .../items``; a missing bbox reads ``[]``.
- A ``datetime`` before 1970 is REFUSED (and by the same mapping ``start_datetime`` and
  ``end_datetime``): they are ``date_nanos`` (1970..2262) — "is before the epoch in 1970
  and cannot be stored in nanosecond resolution".
- A string property over 32766 bytes is REFUSED: every string but ``title`` and
  ``description`` is an unbounded ``keyword`` ("Document contains at least one immense
  term"). Long descriptions are fine (``text``).
- Nothing else checks the shape by default: an invalid longitude went in.

Semantics that matter when comparing result ids with labstac
- Default order: ``properties.datetime`` desc (missing as epoch 0, so last), then
  ``properties.start_datetime`` desc, then ``id`` **desc**, then ``collection`` desc.
  labstac: datetime desc (missing last), then its document key asc. Ties on datetime
  (and items without datetime) come out in opposite id order.
- ``sortby`` (GET ``sortby=-properties.datetime,id``; POST ``[{"field", "direction"}]``)
  replaces the default order and appends ``id`` asc as tie-breaker. Any keyword, number or
  date field sorts; ``properties.title`` is ``text`` and answers 400 (labstac sorts titles
  by ``title.keyword``).
- ``q`` (free text) is supported, GET and POST. The terms (GET: comma-separated) are joined
  into ONE ``multi_match`` (``best_fields``, ``operator: or``, ``fuzziness: AUTO``) over
  ``id``, ``collection``, ``properties.title^3``, ``properties.description``,
  ``properties.keywords`` (``FREE_TEXT_FIELDS`` to change; left default). Results are still
  in the default sort, not by score. labstac: one ``multi_match`` per comma term
  (``operator: and``, a phrase when the term has a space, no fuzziness) over title^3,
  description, keywords^2, any term may match. So the peer matches more (any word, typos,
  ids and collection names).
- ``filter``: CQL2 text on GET (``filter-lang=cql2-text`` or no ``filter-lang``),
  ``cql2-json`` on GET and POST; POST refuses cql2-text (400: ``filter-lang`` must be
  ``cql2-json``). Properties are addressed without the ``properties.`` prefix. Strings are
  mapped ``keyword`` (``title``/``description`` ``text``), numbers ``double``; queryables
  are not enforced (``VALIDATE_QUERYABLES=false``). In 8.0.0 every filtered search logs a
  WARNING (``'UnfilteredIndexSelector' object has no attribute 'get_all_collection_ids'``)
  and falls back to its older CQL2 translator: results are right, the fallback is a cost
  it pays on each such request.
- ``datetime``: an item WITH ``datetime`` matches on it alone; only an item with
  ``datetime: null`` matches by ``start_datetime``..``end_datetime`` overlap, and only if
  it has both. labstac also matches an item that has a datetime by its start/end range.
  ``datetime`` fields are ``date_nanos``: only 1970..2262 is representable.
- ``bbox``/``intersects``: ``geo_shape`` intersects on ``geometry``; items with null
  geometry never match (as in labstac). A 6-number bbox drops its heights.
- Paging: ``limit`` default 10, capped at 10000. ``token`` is base64url of the JSON
  ``search_after`` values of the last hit (default order:
  ``[datetime in ns, start_datetime in ns or 0, id, collection]``); the GET next link is
  the same URL with
  ``token=``; the POST next link carries ``body`` with ``token``. ``numberMatched`` comes
  from a parallel count, awaited at most ``COUNT_TIMEOUT`` (0.5 s) — past that, from the
  search's total, or absent above 10000 hits. No ``context`` object.
- Item by id: ``GET /collections/{cid}/items/{iid}``; ``/collections/{cid}/items`` lists
  with the same search machinery.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "helpers"))  # for support.stop_process

from support import stop_process  # noqa: E402  (tests/helpers/support.py)

PEER_PACKAGE = "stac-fastapi-opensearch"
PEER_VERSION = "8.0.0"
# The exact distributions installed, in pip's syntax; the marker file holds them.
REQUIREMENTS = (
    f"{PEER_PACKAGE}=={PEER_VERSION}",
    "opensearch-py[async]==3.2.0",
    "uvicorn==0.54.0",
)
# Beside the services' state (scripts/services.sh): a root-owned place that outlives /tmp.
SERVICES_HOME = Path(os.environ.get("LABSTAC_SERVICES_HOME", "/var/tmp/labstac"))  # noqa: S108
DEFAULT_VENV = SERVICES_HOME / "peer-venv"
MARKER = ".labstac-peer-installed"

OPENSEARCH_URL = "http://127.0.0.1:9200"
# Every index, alias and template the peer creates starts with this; nothing else does.
NAME_PREFIX = "peer-sfeos-"
COLLECTIONS_INDEX = f"{NAME_PREFIX}collections"
ITEMS_INDEX_PREFIX = f"{NAME_PREFIX}items_"
TEMPLATES = (f"template_{COLLECTIONS_INDEX}", f"template_{ITEMS_INDEX_PREFIX}")

DEFAULT_PORT = 8091
START_TIMEOUT = 120.0


# ----------------------------------------------------------------------------- install


def _python311() -> str:
    """A Python 3.11 to build the venv from: the peer's and labstac's version."""
    found = shutil.which("python3.11")
    if found:
        return found
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    raise RuntimeError("python3.11 not found: the peer's virtualenv needs it")


def install(venv_dir: Path = DEFAULT_VENV, opensearch_url: str = OPENSEARCH_URL) -> Path:
    """Create the peer's own virtualenv with the pinned packages; return its python.

    Idempotent: a marker file records what was installed, and a match skips the work.
    """
    python = venv_dir / "bin" / "python"
    marker = venv_dir / MARKER
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    if not python.exists():
        subprocess.run([_python311(), "-m", "venv", str(venv_dir)], check=True)
    marker.unlink(missing_ok=True)  # a half-done install must not pass for a whole one
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, *REQUIREMENTS], check=True)
    check_client(python, opensearch_url)
    marker.write_text(wanted)
    return python


_CLIENT_CHECK = """
import asyncio, json, sys
from opensearchpy import AsyncOpenSearch, OpenSearch, __versionstr__
url = sys.argv[1]
info = OpenSearch(hosts=[url]).info()
async def ping():
    client = AsyncOpenSearch(hosts=[url])
    try:
        return (await client.cluster.health())["status"]
    finally:
        await client.close()
print(json.dumps({"client": __versionstr__, "server": info["version"]["number"],
                  "health": asyncio.run(ping())}))
"""


def check_client(venv_python: Path, opensearch_url: str = OPENSEARCH_URL) -> dict[str, str]:
    """Show that the peer venv's opensearch-py (sync and async) talks to the server."""
    out = subprocess.run(
        [str(venv_python), "-c", _CLIENT_CHECK, opensearch_url],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, str] = json.loads(out.stdout)
    return result


# ------------------------------------------------------------------------ start / stop


def peer_env(opensearch_url: str = OPENSEARCH_URL) -> dict[str, str]:
    """The peer's environment: a clean one, so nothing of the caller's leaks into it."""
    url = httpx.URL(opensearch_url)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(
        ES_HOST=url.host,
        ES_PORT=str(url.port or 9200),
        ES_USE_SSL="true" if url.scheme == "https" else "false",
        ES_VERIFY_CERTS="false",
        STAC_COLLECTIONS_INDEX=COLLECTIONS_INDEX,
        STAC_ITEMS_INDEX_PREFIX=ITEMS_INDEX_PREFIX,
        ENABLE_TRANSACTIONS_EXTENSIONS="true",
        REDIS_ENABLE="false",
    )
    return env


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(
    venv_python: Path,
    port: int = DEFAULT_PORT,
    log_path: Path = SERVICES_HOME / "peer.log",
    opensearch_url: str = OPENSEARCH_URL,
    timeout: float = START_TIMEOUT,
) -> subprocess.Popen[bytes]:
    """Start the peer as one uvicorn process; return once its landing page answers."""
    base_url = f"http://127.0.0.1:{port}"
    if _answers(f"{base_url}/"):
        # Something else would answer the benchmark's requests.
        raise RuntimeError(f"{base_url} already answers: stop it or pick another port")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(venv_python), "-m", "uvicorn", "stac_fastapi.opensearch.app:create_app",
        "--factory", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-access-log",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        # Own session: a Ctrl-C meant for the benchmark does not kill the peer half-way.
        proc = subprocess.Popen(
            cmd,
            env=peer_env(opensearch_url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(proc, base_url, log_path, timeout)
    except BaseException:
        stop(proc)
        raise
    return proc


def _wait_ready(
    proc: subprocess.Popen[bytes], base_url: str, log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"peer exited with {proc.returncode} during start-up; log tail:\n{_tail(log_path)}"
            )
        if _answers(f"{base_url}/"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"peer not answering within {timeout:.0f} s; log tail:\n{_tail(log_path)}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Stop the peer: SIGTERM (uvicorn shuts down cleanly), SIGKILL if it lingers.

    Its exit code is then -15: uvicorn re-raises the signal once it has shut down.
    """
    stop_process(proc, timeout)


def peak_memory(pid: int) -> int:
    """Peak resident memory (VmHWM) of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            value, unit = line.split()[1:3]
            assert unit == "kB", line  # noqa: S101 - the kernel's format, not input
            return int(value) * 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


# ------------------------------------------------------------------------- reset / load


def _peer_indices(client: httpx.Client) -> list[str]:
    resp = client.get(f"/_cat/indices/{NAME_PREFIX}*", params={"format": "json", "h": "index"})
    resp.raise_for_status()
    return sorted(row["index"] for row in resp.json())


def reset(opensearch_url: str = OPENSEARCH_URL) -> list[str]:
    """Delete the peer's indices and templates, each by its exact name; return the names.

    Call it while the peer is stopped: the peer creates its templates and collections
    index at start-up and would run on without them. (While it runs, ``clear`` empties it
    through its own API instead.)
    """
    deleted: list[str] = []
    with httpx.Client(base_url=opensearch_url, timeout=60.0) as client:
        for index in _peer_indices(client):
            # Exact names only: a wildcard delete is one typo away from labstac's data.
            if not index.startswith(NAME_PREFIX):
                raise RuntimeError(f"refusing to delete {index!r}: not the peer's")
            client.delete(f"/{index}").raise_for_status()
            deleted.append(index)
        for template in TEMPLATES:
            resp = client.delete(f"/_index_template/{template}")
            if resp.status_code != 404:
                resp.raise_for_status()
                deleted.append(template)
    return deleted


def clear(base_url: str) -> list[str]:
    """Delete every collection (and so its items index) through the running peer's API."""
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        resp = client.get("/collections", params={"limit": 1000})
        resp.raise_for_status()
        ids = [c["id"] for c in resp.json()["collections"]]
        for cid in ids:
            client.delete(f"/collections/{cid}").raise_for_status()
    return ids


class PeerLoadError(RuntimeError):
    """The peer refused collections or items; ``refused`` lists them with its messages."""

    def __init__(self, message: str, refused: list[dict[str, Any]]) -> None:
        super().__init__(f"{message}: {json.dumps(refused[:10])[:2000]}")
        self.refused = refused


def _post_collection(client: httpx.Client, collection: dict[str, Any]) -> None:
    resp = client.post("/collections", json=collection)
    if resp.status_code == 409:
        # Start clean: its own delete also drops the collection's items index.
        client.delete(f"/collections/{collection['id']}").raise_for_status()
        resp = client.post("/collections", json=collection)
    if resp.status_code not in (200, 201):
        raise PeerLoadError(
            "collection refused",
            [{"id": collection.get("id"), "status": resp.status_code, "msg": resp.text}],
        )


def _batches(
    items: Iterable[dict[str, Any]], batch: int
) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """(collection id, {item id: item}) batches; a buffer per collection, streamed."""
    buffers: dict[str, dict[str, dict[str, Any]]] = {}
    for item in items:
        cid, iid = item.get("collection"), item.get("id")
        if not isinstance(cid, str) or not isinstance(iid, str):
            raise PeerLoadError("item without string id/collection", [{"id": iid}])
        buffer = buffers.setdefault(cid, {})
        if iid in buffer:
            # A dict keyed by id would silently keep one of the two.
            raise PeerLoadError("duplicate item id in one batch", [{"id": iid}])
        buffer[iid] = item
        if len(buffer) >= batch:
            yield cid, buffers.pop(cid)
    yield from buffers.items()


def _post_items(client: httpx.Client, cid: str, batch: dict[str, dict[str, Any]]) -> int:
    resp = client.post(f"/collections/{cid}/bulk_items", json={"items": batch, "method": "insert"})
    if resp.status_code != 200:
        raise PeerLoadError(
            f"bulk_items to {cid} failed", [{"status": resp.status_code, "msg": resp.text}]
        )
    body = resp.json()
    if body.get("errors") or body.get("success") != len(batch):
        raise PeerLoadError(f"{cid}: {body.get('success')} of {len(batch)} items taken",
                            body.get("errors") or [body])  # fmt: skip
    success: int = body["success"]
    return success


def refresh(opensearch_url: str = OPENSEARCH_URL) -> None:
    """Make all written documents searchable: the peer writes without refreshing."""
    resp = httpx.post(f"{opensearch_url}/{NAME_PREFIX}*/_refresh", timeout=60.0)
    resp.raise_for_status()


def matched(base_url: str, collection_ids: list[str] | None = None) -> int | None:
    """``numberMatched`` of a search over everything (or the given collections)."""
    params: dict[str, Any] = {"limit": 1}
    if collection_ids:
        params["collections"] = ",".join(collection_ids)
    resp = httpx.get(f"{base_url}/search", params=params, timeout=60.0)
    resp.raise_for_status()
    value = resp.json().get("numberMatched")
    return int(value) if value is not None else None


def load(
    base_url: str,
    collections: list[dict[str, Any]],
    items: Iterable[dict[str, Any]],
    batch: int = 500,
    opensearch_url: str = OPENSEARCH_URL,
) -> int:
    """Load through the peer's own HTTP write path; return the number of items loaded.

    Raises ``PeerLoadError`` on any refused collection or item (never drops one), and
    when the peer's search does not then count exactly the items loaded.
    """
    loaded = 0
    with httpx.Client(base_url=base_url, timeout=300.0) as client:
        for collection in collections:
            _post_collection(client, collection)
        for cid, chunk in _batches(items, batch):
            loaded += _post_items(client, cid, chunk)
    refresh(opensearch_url)
    ids = [c["id"] for c in collections]
    count = matched(base_url, ids)
    if count is None:  # the peer's count timed out: ask the engine itself
        resp = httpx.get(f"{opensearch_url}/{ITEMS_INDEX_PREFIX}*/_count", timeout=60.0)
        count = int(resp.json()["count"])
    if count != loaded:
        raise PeerLoadError("count after load differs", [{"loaded": loaded, "found": count}])
    return loaded


# ---------------------------------------------------------------------------- selftest


def _collection(cid: str, title: str) -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "stac_extensions": [],
        "id": cid,
        "title": title,
        "description": f"{title} for the peer's selftest",
        "license": "other",
        "keywords": [cid],
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [["2020-01-01T00:00:00Z", None]]},
        },
        "links": [],
    }


MLM = "https://stac-extensions.github.io/mlm/v1.4.0/schema.json"


def synthetic_item(n: int) -> dict[str, Any]:
    """Item n: even n in ai-model, odd in dataset; every fifth has no geometry; every
    seventh has no datetime but a start..end range."""
    cid = "ai-model" if n % 2 == 0 else "dataset"
    lon, lat = -170.0 + 7 * (n % 50), -40.0 + 1.5 * (n % 50)
    item: dict[str, Any] = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [MLM] if cid == "ai-model" else [],
        "id": f"{cid}-{n:03d}",
        "collection": cid,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "bbox": [lon, lat, lon, lat],
        "properties": {
            "datetime": f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}T12:00:00Z",
            "title": f"{'Model' if cid == 'ai-model' else 'Data'} number {n}",
            "description": "segmentation of crops" if n % 3 == 0 else "detection of ships",
            "keywords": ["crops"] if n % 3 == 0 else ["ships", "sar"],
            "mlm:framework": "pytorch" if n % 4 == 0 else "onnx",
            "labstac:stars": n % 10,
        },
        "links": [{"rel": "about", "href": f"https://example.test/p/{n}"}],
        "assets": {"readme": {"href": f"https://example.test/p/{n}/README.md",
                              "type": "text/markdown", "roles": ["metadata"]}},
    }  # fmt: skip
    if n % 5 == 0:
        item["geometry"] = None
        item["bbox"] = None
    if n % 7 == 0:
        item["properties"]["datetime"] = None
        item["properties"]["start_datetime"] = "2023-06-01T00:00:00Z"
        item["properties"]["end_datetime"] = f"2023-{7 + n % 5:02d}-01T00:00:00Z"
    return item


def _page_through(client: httpx.Client, first: httpx.Response) -> list[str]:
    """Follow next links (GET or POST) to the end; return the ids in order."""
    ids: list[str] = []
    resp = first
    for _ in range(100):
        resp.raise_for_status()
        body = resp.json()
        ids += [f["id"] for f in body["features"]]
        nxt = next((link for link in body["links"] if link["rel"] == "next"), None)
        if nxt is None:
            return ids
        if nxt.get("method") == "POST":
            resp = client.post(nxt["href"], json=nxt["body"])
        else:
            resp = client.get(nxt["href"])
    raise RuntimeError("paging did not end")


def _show(label: str, resp: httpx.Response, expected: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = resp.json() if resp.content else {}
    got = body.get("numberMatched")
    ids = [f["id"] for f in body.get("features", [])]
    verdict = "" if expected is None else ("ok" if got == expected else f"EXPECTED {expected}")
    print(f"  {resp.status_code} {label}: matched={got} returned={len(ids)} "
          f"first={ids[:4]} {verdict}")  # fmt: skip
    if resp.status_code >= 400:
        print(f"      {resp.text[:300]}")
    return body


def _probe_shapes(base_url: str) -> None:
    """Item shapes that labstac may hold, one at a time, through both write paths.

    A fresh connection per request: the peer answers some refusals with a 500 and drops
    the connection.
    """
    base = synthetic_item(1001)  # odd: a dataset item
    shapes: dict[str, dict[str, Any]] = {
        "null geometry+bbox": {**base, "id": "probe-nullgeom", "geometry": None, "bbox": None},
        "null geometry, no bbox": {
            **{k: v for k, v in base.items() if k != "bbox"},
            "id": "probe-nobbox",
            "geometry": None,
        },
        "datetime 1960": {
            **base,
            "id": "probe-1960",
            "properties": {**base["properties"], "datetime": "1960-05-01T00:00:00Z"},
        },
        "40 kB string property": {
            **base,
            "id": "probe-bigstring",
            "properties": {**base["properties"], "labstac:readme": "x" * 40_000},
        },
        "datetime and start..end": {
            **base,
            "id": "probe-both",
            "properties": {**base["properties"], "datetime": "2024-01-01T00:00:00Z",
                           "start_datetime": "2022-01-01T00:00:00Z",
                           "end_datetime": "2022-12-31T00:00:00Z"},
        },
    }  # fmt: skip
    items_url = f"{base_url}/collections/dataset"
    for label, item in shapes.items():
        single = {**item, "id": item["id"] + "-single"}
        bulk = httpx.post(f"{items_url}/bulk_items", json={"items": {item["id"]: item}})
        print(f"  {bulk.status_code} bulk_items [{label}]: {bulk.text[:300]}")
        one = httpx.post(f"{items_url}/items", json=single)
        print(f"  {one.status_code} POST /items [{label}]: {one.text[:160]}")
        refresh()
        for iid in (item["id"], single["id"]):
            got = httpx.get(f"{items_url}/items/{iid}")
            shown = {k: got.json().get(k) for k in ("geometry", "bbox")} if got.is_success else ""
            print(f"      GET {iid}: {got.status_code} {shown}")
        if label.startswith("datetime and"):
            # Does its start..end range count when the item also has a datetime?
            window = "2022-06-01T00:00:00Z/2022-06-30T00:00:00Z"
            found = httpx.get(f"{base_url}/search", params={"ids": item["id"], "datetime": window})
            print(
                f"      found by a window inside its range only: {found.json().get('numberMatched')}"
            )
        for iid in (item["id"], single["id"]):
            httpx.delete(f"{items_url}/items/{iid}")


def _expected(items: list[dict[str, Any]], keep: Any) -> int:
    return sum(1 for item in items if keep(item))


def _in_box(item: dict[str, Any], box: tuple[float, float, float, float]) -> bool:
    geometry = item["geometry"]
    if geometry is None:
        return False
    lon, lat = geometry["coordinates"]
    return bool(box[0] <= lon <= box[2] and box[1] <= lat <= box[3])


def _queries(base_url: str, items: list[dict[str, Any]]) -> None:
    total = len(items)
    box = (-150.0, -40.0, 0.0, 0.0)
    polygon = {
        "type": "Polygon",
        "coordinates": [[[box[0], box[1]], [box[2], box[1]], [box[2], box[3]],
                         [box[0], box[3]], [box[0], box[1]]]],
    }  # fmt: skip
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        _show("GET /search?limit=10", client.get("/search", params={"limit": 10}), total)
        _show(
            "GET /search bbox",
            client.get("/search", params={"bbox": ",".join(map(str, box))}),
            _expected(items, lambda i: _in_box(i, box)),
        )
        _show(
            "POST /search intersects",
            client.post("/search", json={"intersects": polygon, "limit": 50}),
            _expected(items, lambda i: _in_box(i, box)),
        )
        window = ("2024-03-01T00:00:00Z", "2024-06-30T23:59:59Z")

        def in_window(item: dict[str, Any]) -> bool:
            dt = item["properties"]["datetime"]
            return dt is not None and window[0] <= dt <= window[1]

        _show(
            "GET /search datetime range",
            client.get("/search", params={"datetime": "/".join(window)}),
            _expected(items, in_window),
        )
        _show(
            "GET /search datetime ../2023-06-15 (ranged items only)",
            client.get("/search", params={"datetime": "../2023-06-15T00:00:00Z"}),
            _expected(items, lambda i: i["properties"]["datetime"] is None),
        )
        _show(
            "GET /search cql2-text mlm:framework='pytorch'",
            client.get("/search", params={"filter-lang": "cql2-text",
                                          "filter": "\"mlm:framework\" = 'pytorch'"}),
            _expected(items, lambda i: i["properties"]["mlm:framework"] == "pytorch"),
        )  # fmt: skip
        _show(
            "GET /search cql2-text labstac:stars >= 7",
            client.get("/search", params={"filter": '"labstac:stars" >= 7'}),
            _expected(items, lambda i: i["properties"]["labstac:stars"] >= 7),
        )
        cql2_json = {"op": "=", "args": [{"property": "mlm:framework"}, "onnx"]}
        _show(
            "POST /search cql2-json",
            client.post("/search", json={"filter-lang": "cql2-json", "filter": cql2_json}),
            _expected(items, lambda i: i["properties"]["mlm:framework"] == "onnx"),
        )
        _show(
            "POST /search cql2-text string",
            client.post("/search", json={"filter-lang": "cql2-text",
                                         "filter": "\"mlm:framework\" = 'onnx'"}),
        )  # fmt: skip
        body = _show(
            "GET /search sortby=-properties.datetime",
            client.get("/search", params={"sortby": "-properties.datetime", "limit": 5}),
        )
        print(f"      datetimes: {[f['properties'].get('datetime') for f in body['features']]}")
        _show("GET /search sortby=id", client.get("/search", params={"sortby": "id", "limit": 5}))
        _show(
            "GET /search sortby=-properties.labstac:stars,id",
            client.get("/search", params={"sortby": "-properties.labstac:stars,id", "limit": 5}),
        )
        by_title = [{"field": "properties.title", "direction": "asc"}]
        _show("POST /search sortby title", client.post("/search", json={"sortby": by_title}))
        _show("POST /search q=[crops]", client.post("/search", json={"q": ["crops"]}))
        _show(
            "GET /search q=crops",
            client.get("/search", params={"q": "crops"}),
            _expected(items, lambda i: "crops" in i["properties"]["keywords"]),
        )
        _show("GET /search q=crop (fuzzy?)", client.get("/search", params={"q": "crop"}))
        _show("GET /search q=ships,crops", client.get("/search", params={"q": "ships,crops"}))
        _show(
            "GET /search q=ai-model (id/collection)",
            client.get("/search", params={"q": "ai-model"}),
        )
        default = _page_through(client, client.get("/search", params={"limit": 7}))
        print(f"  GET paging limit=7: {len(default)} ids, {len(set(default))} distinct "
              f"{'ok' if sorted(default) == sorted(i['id'] for i in items) else 'MISMATCH'}")  # fmt: skip
        posted = _page_through(client, client.post("/search", json={"limit": 9}))
        print(f"  POST paging limit=9: {len(posted)} ids, same order as GET: {posted == default}")
        first = client.get("/search", params={"limit": 2}).json()
        nxt = next(link for link in first["links"] if link["rel"] == "next")
        print(f"      next href: {nxt['href']}")
        _show("GET /collections/dataset/items?limit=5",
              client.get("/collections/dataset/items", params={"limit": 5}))  # fmt: skip
        one = items[1]
        got = client.get(f"/collections/{one['collection']}/items/{one['id']}")
        print(f"  {got.status_code} GET /collections/{one['collection']}/items/{one['id']}: "
              f"id={got.json().get('id')}")  # fmt: skip
        nulled = next(i for i in items if i["geometry"] is None)
        got = client.get(f"/collections/{nulled['collection']}/items/{nulled['id']}").json()
        print(
            f"      null-geometry item back: geometry={got.get('geometry')} bbox={got.get('bbox')}"
        )
        print(f"  default order (first 12): {default[:12]}")


def selftest(venv_dir: Path, port: int) -> None:
    """Install, start, load synthetic items, query, stop, clean up. It uses the peer's own
    index names, so it empties what bench/search.py loaded (a later --reuse reloads it)."""
    started = time.perf_counter()
    python = install(venv_dir)
    print(f"install: {python} ({time.perf_counter() - started:.1f} s)")
    print(f"client check: {check_client(python)}")
    print(f"reset: {reset()}")
    log = venv_dir.parent / f"peer-{port}.log"
    started = time.perf_counter()
    proc = start(python, port, log)
    base_url = f"http://127.0.0.1:{port}"
    print(f"start: pid {proc.pid} in {time.perf_counter() - started:.1f} s, log {log}")
    try:
        landing = httpx.get(f"{base_url}/").json()
        print(f"landing: stac_version={landing.get('stac_version')} "
              f"conformance={len(landing.get('conformsTo', []))} classes")  # fmt: skip
        collections = [_collection("ai-model", "AI Models"), _collection("dataset", "Datasets")]
        items = [synthetic_item(n) for n in range(50)]
        started = time.perf_counter()
        loaded = load(base_url, collections, items)
        print(
            f"load: {loaded} items in {time.perf_counter() - started:.3f} s (incl. refresh+count)"
        )
        started = time.perf_counter()
        loaded = load(base_url, collections, items)  # again: 409s deleted and re-posted
        print(f"reload: {loaded} items in {time.perf_counter() - started:.3f} s")
        _queries(base_url, items)
        _probe_shapes(base_url)
        print(f"peak memory: {peak_memory(proc.pid) / 2**20:.1f} MiB")
        print(f"clear via API: {clear(base_url)}")
    finally:
        stop(proc)
        print(f"stopped (exit {proc.returncode}); reset: {reset()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["selftest", "install"])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args()
    if args.command == "install":
        print(install(args.venv))
    else:
        selftest(args.venv, args.port)


if __name__ == "__main__":
    main()
