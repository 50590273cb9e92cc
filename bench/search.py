"""Search benchmark: labstac against its peer, stac-fastapi-opensearch, on the same
OpenSearch node, with the same items and the same queries.

    make bench        (python bench/search.py; services must run: make services)

1. A simulator world of 100,000 projects (2,000 users, 1,500 groups, plus one user in 5
   groups and one in 500) is indexed by labstac (``labstac reindex``'s code).
2. The same items, read back from labstac's index, go into the peer's own indices through
   its own write path (bench/peer.py), from its own virtualenv, with its default settings.
   The peer cannot address an item id holding ``/`` by URL (GitLab paths all do), so it gets
   them with ``~`` instead (GitLab paths never hold one); ids are mapped back to compare.
3. Both APIs run as one uvicorn process each, with no response cache in either.
4. The query mix runs against each, interleaved (rounds, rotating the order of the targets
   within each), with the same HTTP client and concurrency; labstac as anonymous, admin, a
   user in 5 groups and one in 500; the peer has no callers (it enforces no permissions).
5. The floor: the query DSL labstac generates for each caller, sent straight to OpenSearch
   through the same client.
6. Before timing, both APIs must return the same items for each query whose semantics are
   the same (labstac as admin, who sees every item, as anonymous would on an all-public
   world); queries whose semantics differ are reported, with the reason.

Prints the table, writes bench/results/search-<time>.json and docs/benchmarks.md. Options:
``--projects`` (default 100000), ``--rounds``, ``--requests`` (per query, target and round),
``--concurrency``, ``--reuse`` (keep the world and both indices between runs: only for
iterating on the benchmark itself), ``--nodes 3`` (labstac on one node and on a local
three-node cluster instead, with no peer: bench/nodes.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "helpers"))  # for support.stop_process

import peer  # noqa: E402  (bench/peer.py)
import report  # noqa: E402  (bench/report.py)
from processes import serve_world, wait_http  # noqa: E402  (bench/processes.py)
from support import stop_process  # noqa: E402  (tests/helpers/support.py)

from api.stac_params import parse_search  # noqa: E402
from gitlab_sim.generator import generate  # noqa: E402
from gitlab_sim.world import REPORTER, Membership, Token, User, World  # noqa: E402
from indexer.access.filter import AccessFilters  # noqa: E402
from indexer.access.memberships import principals_from_gitlab  # noqa: E402
from indexer.index.layout import ensure_index  # noqa: E402
from indexer.index.runtime import IndexRuntime  # noqa: E402
from indexer.search.request import HIDDEN, item_body, search_body  # noqa: E402
from indexer.settings import Settings  # noqa: E402

STATE = Path(os.environ.get("LABSTAC_SERVICES_HOME", "/var/tmp/labstac")) / "bench-search"  # noqa: S108
OPENSEARCH = os.environ.get("LABSTAC_OPENSEARCH_URL", "http://127.0.0.1:9200")
REDIS = os.environ.get("LABSTAC_REDIS_URL", "redis://127.0.0.1:6379/11")
SIM_PORT, LABSTAC_PORT, PEER_PORT = 18190, 18191, 18192
STAC = "/api/v1/stac"
PREFIX = "benchsearch"
CALLERS = ("anonymous", "admin", "member5", "member500")
BOX = "-10,35,30,60"
POLYGON = {
    "type": "Polygon",
    "coordinates": [[[-60, -10], [20, -30], [40, 20], [-20, 45], [-60, -10]]],
}
WINDOW = "2026-02-01T00:00:00Z/2026-02-28T23:59:59Z"
GENERATED_START = "<!-- written by make bench: from here -->"
GENERATED_END = "<!-- written by make bench: to here -->"


# ---------------------------------------------------------------------------- the world


def bench_world(projects: int) -> tuple[World, dict[str, str | None]]:
    """The generated world, plus a user in 5 groups and one in 500; and a token per caller."""
    world = generate(12, users=2000, groups=1500, projects=projects)
    chooser = random.Random(500)
    groups = [g.id for g in world.groups]
    tokens: dict[str, str | None] = {"anonymous": None}
    for name, count in (("member5", 5), ("member500", 500)):
        user = User(id=max(u.id for u in world.users) + 1, username=name, name=name)
        world.users.append(user)
        token = f"glpat-bench-{name}-0123456789"
        world.tokens.append(Token(len(world.tokens) + 1, token, user.id, "main", ["read_api"]))
        for group_id in chooser.sample(groups, count):
            world.memberships.append(Membership(user.id, "group", group_id, REPORTER))
        tokens[name] = token
    world.changed()
    tokens["admin"] = world.token_named(1).token
    return world, tokens


def peer_id(item_id: str) -> str:
    return item_id.replace("/", "~")


def labstac_id(item_id: str) -> str:
    return item_id.replace("~", "/")


# ---------------------------------------------------------------------------- the queries


@dataclass
class Query:
    name: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)  # GET query or POST body
    same: bool = True  # both APIs should return the same items
    differs: str = ""  # why not, when they do not
    path: str = "/search"


def query_mix(item: dict[str, Any]) -> list[Query]:
    collection, item_id = item["collection"], item["id"]
    return [
        Query("no filter", "GET", {"limit": 10}),
        Query("free text", "GET", {"q": "flood", "limit": 10}, same=False,
              differs="the peer matches any word with typos over ids and collection names "
                      "too; labstac matches all words of a term over title, description "
                      "and keywords, without typos"),
        Query("bbox", "GET", {"bbox": BOX, "limit": 10}),
        Query("intersects", "POST", {"intersects": POLYGON, "limit": 10}),
        Query("datetime range", "GET", {"datetime": WINDOW, "limit": 10}, same=False,
              differs="labstac also matches an item whose start_datetime..end_datetime "
                      "overlaps the window; the peer matches an item with a datetime on "
                      "its datetime alone"),
        Query("cql2 filter", "GET", {"filter": "gsd <= 20", "filter-lang": "cql2-text",
                                     "limit": 10}),
        Query("sort by datetime", "GET", {"sortby": "-properties.datetime", "limit": 10}),
        Query("tenth page", "GET", {"limit": 10}),  # its URL is found by paging, per caller
        Query("item by id", "GET", {}, path=f"/collections/{collection}/items/{item_id}"),
    ]  # fmt: skip


# ---------------------------------------------------------------------------- set-up


def check_services() -> str:
    try:
        version = httpx.get(OPENSEARCH, timeout=5).json()["version"]["number"]
    except (httpx.HTTPError, KeyError, ValueError):
        raise SystemExit(
            f"OpenSearch does not answer at {OPENSEARCH}: run `make services`"
        ) from None
    return str(version)


def labstac_settings(sim_url: str, admin: str) -> Settings:
    return Settings(
        gitlab_url=sim_url, gitlab_token=admin, index_prefix=PREFIX, redis_url=REDIS,
        opensearch_url=OPENSEARCH, state_dir=STATE / "state",
    )  # type: ignore[arg-type]  # fmt: skip


def labstac_index(settings: Settings, projects: int, reuse: bool) -> tuple[int, float | None]:
    runtime = IndexRuntime(settings)
    try:
        alias = runtime.layout.read_alias
        if reuse and runtime.engine.alias_targets(alias)[alias]:
            return runtime.engine.count(alias), None
        ensure_index(runtime.engine, runtime.layout)
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            summary = runtime.rebuild(concurrency=16, stream=quiet).run()
        if summary.failed or not summary.swapped:
            raise SystemExit(f"labstac reindex failed: {summary.failed[:5]}")
        runtime.engine.refresh(alias)
        return runtime.engine.count(alias), time.perf_counter() - started
    finally:
        runtime.close()


def serve_labstac(port: int, settings: dict[str, str]) -> subprocess.Popen[bytes]:
    """`labstac serve` on ``port`` with these LABSTAC_* settings, the benchmark's Redis and
    state folder, and a quiet log; returns once it is ready."""
    env = {**os.environ, "LABSTAC_REDIS_URL": REDIS, "LABSTAC_STATE_DIR": str(STATE / "state"),
           "LABSTAC_LOG_LEVEL": "WARNING", "LABSTAC_PORT": str(port), **settings}  # fmt: skip
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "labstac"), "serve"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", process)
    except BaseException:
        stop_process(process, 20)
        raise
    return process


def labstac_items() -> list[dict[str, Any]]:
    """Every item in labstac's index, as a client would get it (without labstac's fields)."""
    items: list[dict[str, Any]] = []
    after: list[Any] | None = None
    with httpx.Client(timeout=120) as client:
        while True:
            body: dict[str, Any] = {
                "size": 5000, "sort": [{"doc_key": "asc"}], "_source": {"excludes": HIDDEN},
                "query": {"match_all": {}},
            }  # fmt: skip
            if after:
                body["search_after"] = after
            hits = client.post(f"{OPENSEARCH}/{PREFIX}-items/_search", json=body).json()
            hits = hits["hits"]["hits"]
            if not hits:
                return items
            items += [hit["_source"] for hit in hits]
            after = hits[-1]["sort"]


def peer_load(base: str, collections: list[dict[str, Any]], reuse: bool) -> tuple[int, float]:
    items = labstac_items()
    if reuse and peer.matched(base) == len(items):
        return len(items), 0.0
    peer.clear(base)
    started = time.perf_counter()
    for item in items:  # the peer makes its own links, as labstac does
        item["id"] = peer_id(item["id"])
        item["links"] = []
    wanted = [{**c, "links": []} for c in collections]
    loaded = peer.load(base, wanted, items, opensearch_url=OPENSEARCH)
    return loaded, time.perf_counter() - started


# ---------------------------------------------------------------------------- targets


@dataclass
class Target:
    """One way of asking one query: an API as a caller, or OpenSearch with labstac's DSL."""

    kind: str  # labstac, peer, opensearch
    caller: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return self.kind if self.kind == "peer" else f"{self.kind}:{self.caller}"

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        return await client.request(
            self.method, self.url, headers=self.headers, params=self.params, json=self.body
        )


def api_target(kind: str, caller: str, base: str, query: Query, token: str | None) -> Target:
    headers = {"PRIVATE-TOKEN": token} if token else {}
    params = dict(query.params)
    if kind == "peer" and query.name == "item by id":
        collection, _, item_id = query.path.removeprefix("/collections/").partition("/items/")
        return Target(kind, caller, "GET", f"{base}/collections/{collection}/items/"
                      f"{peer_id(item_id)}")  # fmt: skip
    if query.method == "POST":
        return Target(kind, caller, "POST", base + query.path, headers, body=params)
    return Target(kind, caller, "GET", base + query.path, headers, params=params)


def tenth_page(client: httpx.Client, target: Target) -> Target:
    """The same target, at the URL of its tenth page (found by following next links)."""
    url, params = target.url, target.params
    for _ in range(9):
        page = client.get(url, params=params, headers=target.headers)
        page.raise_for_status()
        url = next(link["href"] for link in page.json()["links"] if link["rel"] == "next")
        params = None
    return Target(target.kind, target.caller, "GET", url, target.headers)


def resolve_access(settings: Settings, tokens: dict[str, str | None]) -> dict[str, Any]:
    """Each caller's access filter, built by labstac's own code from GitLab's answers."""
    principals = asyncio.run(principals_from_gitlab(settings, list(tokens.values())))
    filters = AccessFilters(
        min_access_level=settings.min_access_level, anonymous_access=settings.anonymous_access
    )
    return {caller: filters.for_principal(p) for caller, p in zip(tokens, principals, strict=True)}


def floor_target(caller: str, query: Query, api: Target, access: dict[str, Any]) -> Target:
    """The DSL labstac sends to OpenSearch for this query and caller."""
    url = f"{OPENSEARCH}/{PREFIX}-items/_search"
    if query.name == "item by id":
        collection, _, item_id = query.path.removeprefix("/collections/").partition("/items/")
        body = item_body(collection, "id", item_id, access)
    else:
        if api.params is None:  # a next link: its query string holds the token
            values = dict(httpx.URL(api.url).params)
        else:
            values = {k: str(v) for k, v in (api.params or api.body or {}).items()}
        from_query = query.method == "GET"
        body = search_body(parse_search(api.body if not from_query and api.body else values,
                                        from_query=from_query), access)  # fmt: skip
    return Target("opensearch", caller, "POST", url, body=body)


# ---------------------------------------------------------------------------- parity


def page_ids(response: httpx.Response) -> list[tuple[str, str]]:
    body = response.json()
    features = body.get("features", [body])
    return [(labstac_id(f["id"]), f["properties"].get("datetime") or "") for f in features]


def same_window(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> bool:
    """The same page of a newest-first order, up to the order of items with equal dates:
    the same dates, and the same items strictly inside the page's date range."""
    if sorted(d for _, d in a) != sorted(d for _, d in b):
        return False
    if not a:
        return True
    newest, oldest = max(d for _, d in a), min(d for _, d in a)
    return {i for i, d in a if oldest < d < newest} == {i for i, d in b if oldest < d < newest}


def parity(targets: dict[str, dict[str, Target]], queries: list[Query]) -> list[dict[str, Any]]:
    rows = []
    with httpx.Client(timeout=60) as client:
        for query in queries:
            ours, theirs = targets[query.name]["labstac:admin"], targets[query.name]["peer"]
            mine, peers = (client.request(t.method, t.url, headers=t.headers, params=t.params,
                                          json=t.body) for t in (ours, theirs))  # fmt: skip
            if mine.status_code != 200 or peers.status_code != 200:
                raise SystemExit(
                    f"{query.name}: labstac {mine.status_code}, peer "
                    f"{peers.status_code}: {mine.text[:200]} {peers.text[:200]}"
                )
            counts = [r.json().get("numberMatched") for r in (mine, peers)]
            agree = counts[0] == counts[1] and same_window(page_ids(mine), page_ids(peers))
            rows.append({"query": query.name, "labstac_matched": counts[0],
                         "peer_matched": counts[1], "same_items": agree,
                         "expected_same": query.same, "semantics_differ": query.differs})  # fmt: skip
            state = "same" if agree else "DIFFERENT"
            print(
                f"  {query.name:18} labstac {counts[0]!s:>7}  peer {counts[1]!s:>7}  {state}"
                + ("" if query.same else f"  (semantics differ: {query.differs})")
            )
    broken = [r["query"] for r in rows if r["expected_same"] and not r["same_items"]]
    if broken:
        raise SystemExit(f"the APIs disagree on queries with the same semantics: {broken}")
    return rows


# ---------------------------------------------------------------------------- timing


async def timed(
    client: httpx.AsyncClient, target: Target, requests: int, concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            response = await target.send(client)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{target.label} {target.url}: {response.status_code} "
                                 f"{response.text[:300]}")  # fmt: skip

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def interval(ordered: list[float], q: float) -> tuple[float, float]:
    """A distribution-free 95% interval for a quantile, from order statistics."""
    n = len(ordered)
    spread = 1.96 * math.sqrt(n * q * (1 - q))
    low = max(0, math.floor(n * q - spread) - 1)
    high = min(n - 1, math.ceil(n * q + spread) - 1)
    return ordered[low], ordered[high]


def summary(latencies: list[float], wall: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    row: dict[str, Any] = {"requests": len(ordered), "rps": round(len(ordered) / wall, 1)}
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        low, high = interval(ordered, q)
        row[f"{name}_ms"] = round(1000 * quantile(ordered, q), 2)
        row[f"{name}_ci_ms"] = [round(1000 * low, 2), round(1000 * high, 2)]
    return row


async def measure(
    targets: dict[str, dict[str, Target]], rounds: int, requests: int, concurrency: int
) -> dict[str, dict[str, dict[str, Any]]]:
    samples: dict[tuple[str, str], list[float]] = {}
    walls: dict[tuple[str, str], float] = {}
    limits = httpx.Limits(
        max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2
    )
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        for by_label in targets.values():  # warm every path, cache and connection
            for target in by_label.values():
                await timed(client, target, max(concurrency * 3, 10), concurrency)
        for round_ in range(rounds):
            started = time.perf_counter()
            for query, by_label in targets.items():
                labels = list(by_label)
                shift = round_ % len(labels)
                for label in labels[shift:] + labels[:shift]:  # A B C ..., then B C ... A
                    latencies, wall = await timed(client, by_label[label], requests, concurrency)
                    samples.setdefault((query, label), []).extend(latencies)
                    walls[(query, label)] = walls.get((query, label), 0.0) + wall
            print(f"  round {round_ + 1}/{rounds}: {time.perf_counter() - started:.0f}s")
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for (query, label), latencies in samples.items():
        result.setdefault(query, {})[label] = summary(latencies, walls[(query, label)])
    return result


# ---------------------------------------------------------------------------- verdict


def geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def verdict(
    figures: dict[str, dict[str, dict[str, Any]]], memory: dict[str, int]
) -> dict[str, Any]:
    queries = list(figures)

    def ratio(query: str, a: str, b: str, stat: str) -> float:
        return float(figures[query][a][f"{stat}_ms"]) / float(figures[query][b][f"{stat}_ms"])

    checks: dict[str, Any] = {}
    for caller in ("anonymous", "admin"):
        for stat in ("p50", "p99"):
            ratios = {q: ratio(q, f"labstac:{caller}", "peer", stat) for q in queries}
            checks[f"labstac {caller} / peer, {stat}"] = {
                "geomean": round(geomean(list(ratios.values())), 3), "target": 1.0,
                "worst": max(ratios, key=lambda q: ratios[q]),
                "worst_ratio": round(max(ratios.values()), 3), "worst_target": 1.5,
                "per_query": {q: round(r, 3) for q, r in ratios.items()},
            }  # fmt: skip
    permission = {q: ratio(q, "labstac:member500", "labstac:admin", "p99") for q in queries}
    checks["labstac member500 / admin, p99"] = {
        "geomean": round(geomean(list(permission.values())), 3), "target": 1.3,
        "worst": max(permission, key=lambda q: permission[q]),
        "worst_ratio": round(max(permission.values()), 3),
        "per_query": {q: round(r, 3) for q, r in permission.items()},
    }  # fmt: skip
    overhead = {q: ratio(q, "labstac:admin", "opensearch:admin", "p50") for q in queries}
    checks["labstac admin / raw OpenSearch, p50"] = {
        "worst": max(overhead, key=lambda q: overhead[q]),
        "worst_ratio": round(max(overhead.values()), 3), "worst_target": 2.0,
        "per_query": {q: round(r, 3) for q, r in overhead.items()},
    }  # fmt: skip
    checks["memory labstac / peer"] = {
        "ratio": round(memory["labstac"] / memory["peer"], 3), "target": 1.0,
        "labstac_mib": round(memory["labstac"] / 2**20, 1),
        "peer_mib": round(memory["peer"] / 2**20, 1),
    }  # fmt: skip
    for check in checks.values():
        met = True
        if "geomean" in check:
            met = check["geomean"] <= check["target"]
        if "worst_target" in check:
            met = met and check["worst_ratio"] <= check["worst_target"]
        if "ratio" in check:
            met = check["ratio"] <= check["target"]
        check["met"] = met
    return checks


# ---------------------------------------------------------------------------- output


def table(figures: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    labels = ["peer", *(f"labstac:{c}" for c in CALLERS), "opensearch:admin"]
    lines = ["| query | target | p50 ms (95% CI) | p95 ms | p99 ms (95% CI) | req/s |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for query, by_label in figures.items():
        for label in labels:
            row = by_label[label]
            lines.append(
                f"| {query} | {label} | {row['p50_ms']:.1f} ({row['p50_ci_ms'][0]:.1f}-"
                f"{row['p50_ci_ms'][1]:.1f}) | {row['p95_ms']:.1f} | {row['p99_ms']:.1f} "
                f"({row['p99_ci_ms'][0]:.1f}-{row['p99_ci_ms'][1]:.1f}) | {row['rps']:.0f} |"
            )
    return lines


def checks_table(checks: dict[str, Any]) -> list[str]:
    lines = ["| check | figure (target) | met |", "|---|---|---|"]
    for name, check in checks.items():
        parts = []
        if "geomean" in check:
            parts.append(f"geomean {check['geomean']:.2f} (≤ {check['target']})")
        if "worst_ratio" in check:
            bound = f" (≤ {check['worst_target']})" if "worst_target" in check else ""
            parts.append(f"worst {check['worst_ratio']:.2f}{bound}: {check['worst']}")
        if "ratio" in check:
            parts.append(f"{check['ratio']:.2f} ({check['labstac_mib']} vs "
                         f"{check['peer_mib']} MiB)")  # fmt: skip
        lines.append(f"| {name} | {'; '.join(parts)} | {'yes' if check['met'] else 'NO'} |")
    return lines


def ratios_table(checks: dict[str, Any]) -> list[str]:
    """Each ratio of the targets, for every query."""
    names = [name for name, check in checks.items() if "per_query" in check]
    queries = list(checks[names[0]]["per_query"])
    lines = ["| query | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for query in queries:
        cells = " | ".join(f"{checks[n]['per_query'][query]:.2f}" for n in names)
        lines.append(f"| {query} | {cells} |")
    return lines


def write_doc(result: dict[str, Any], out: Path) -> None:
    setup = result["setup"]
    lines = [
        "## The last run",
        "",
        "Written by `make bench` (`python bench/search.py`). The full report: "
        f"`{out.relative_to(ROOT)}`.",
        "",
        f"- When: {result['when']}; machine: {result['machine']['cpus']} CPUs "
        f"({result['machine']['cpu']}), {result['machine']['system']}, Python "
        f"{result['machine']['python']}.",
        f"- Versions: labstac {setup['labstac']}, stac-fastapi-opensearch "
        f"{setup['peer']}, OpenSearch {setup['opensearch']} (one node, shared by both).",
        f"- Command: `{result['command']}`.",
        f"- World: {setup['projects']} projects, {setup['items']} items in both indices; "
        f"labstac indexed them in {seconds(setup['labstac_index_seconds'])}, the peer loaded "
        f"them in {seconds(setup['peer_load_seconds'])}.",
        f"- Load: {setup['rounds']} rounds, {setup['requests']} requests per query, target and "
        f"round, {setup['concurrency']} concurrent, one HTTP client (httpx) for all targets. "
        "`opensearch:admin` is labstac's own query for an admin sent straight to the engine.",
        "",
        "### Targets (ratios from the same run)",
        "",
        *checks_table(result["checks"]),
        "",
        "Per query:",
        "",
        *ratios_table(result["checks"]),
        "",
        "### Same items?",
        "",
        "Labstac as admin (who sees every item, as anonymous would on an all-public world) "
        "against the peer, before timing. Items are compared page by page, up to the order "
        "of items with equal dates (the two APIs break such ties differently).",
        "",
        "| query | labstac matched | peer matched | same items | where the semantics differ |",
        "|---|---|---|---|---|",
        *(f"| {r['query']} | {r['labstac_matched']} | {r['peer_matched']} | "
          f"{'yes' if r['same_items'] else 'no'} | {r['semantics_differ'] or '-'} |"
          for r in result["parity"]),
        "",
        "### Latency per query and target",
        "",
        *table(result["figures"]),
        "",
    ]  # fmt: skip
    # Only the part between the markers is the benchmark's; the rest is written by people.
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text() if doc.exists() else f"{GENERATED_START}\n{GENERATED_END}\n"
    before, _, rest = text.partition(GENERATED_START)
    _, _, after = rest.partition(GENERATED_END)
    doc.write_text(f"{before}{GENERATED_START}\n" + "\n".join(lines) + f"{GENERATED_END}{after}")


def seconds(value: Any) -> str:
    return f"{value} s" if isinstance(value, int | float) else "an earlier run (--reuse)"


def labstac_version() -> str:
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    return "?"


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=1,
                        help="3: labstac on a local three-node cluster next to one node "
                        "(bench/nodes.py), instead of labstac against its peer")  # fmt: skip
    args = parser.parse_args()
    if args.nodes == 3:
        import nodes  # bench/nodes.py, only for this mode

        return nodes.main(args)
    opensearch_version = check_services()
    STATE.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        print(f"world: {args.projects} projects ...")
        world, tokens = bench_world(args.projects)
        simulator, sim_url = serve_world(world, STATE / f"world-{args.projects}.json", SIM_PORT)
        processes.append(simulator)
        admin = str(tokens["admin"])
        settings = labstac_settings(sim_url, admin)
        items, index_seconds = labstac_index(settings, args.projects, args.reuse)
        print(f"labstac: {items} items indexed"
              + (f" in {index_seconds:.0f}s" if index_seconds else " (reused)"))  # fmt: skip

        labstac = serve_labstac(LABSTAC_PORT, {
            "LABSTAC_GITLAB_URL": sim_url, "LABSTAC_GITLAB_TOKEN": admin,
            "LABSTAC_INDEX_PREFIX": PREFIX, "LABSTAC_OPENSEARCH_URL": OPENSEARCH,
        })  # fmt: skip
        processes.append(labstac)
        ours = f"http://127.0.0.1:{LABSTAC_PORT}{STAC}"

        venv_python = peer.install(opensearch_url=OPENSEARCH)
        theirs = f"http://127.0.0.1:{PEER_PORT}"
        peer_process = peer.start(venv_python, PEER_PORT, STATE / "peer.log", OPENSEARCH)
        processes.append(peer_process)
        collections = httpx.get(f"{ours}/collections", headers={"PRIVATE-TOKEN": admin},
                                timeout=60).json()["collections"]  # fmt: skip
        loaded, load_seconds = peer_load(theirs, collections, args.reuse)
        print(f"peer: {loaded} items loaded" + (f" in {load_seconds:.0f}s" if load_seconds else
                                                " (reused)"))  # fmt: skip
        if loaded != items:
            raise SystemExit(f"the peer holds {loaded} items, labstac {items}")

        queries = query_mix(readable_by_anyone(ours))
        access = resolve_access(settings, tokens)
        targets: dict[str, dict[str, Target]] = {}
        with httpx.Client(timeout=60) as client:
            for query in queries:
                by_label: dict[str, Target] = {}
                for caller in CALLERS:
                    target = api_target("labstac", caller, ours, query, tokens[caller])
                    if query.name == "tenth page":
                        target = tenth_page(client, target)
                    by_label[target.label] = target
                    floor = floor_target(caller, query, target, access[caller])
                    by_label[floor.label] = floor
                target = api_target("peer", "anonymous", theirs, query, None)
                if query.name == "tenth page":
                    target = tenth_page(client, target)
                by_label[target.label] = target
                targets[query.name] = by_label

        print("same items? (labstac as admin, the peer)")
        same = parity(targets, queries)
        print(f"timing: {args.rounds} rounds x {args.requests} requests x "
              f"{len(targets) * len(targets[queries[0].name])} cells, {args.concurrency} "
              "concurrent")  # fmt: skip
        figures = asyncio.run(measure(targets, args.rounds, args.requests, args.concurrency))
        memory = {"labstac": peer.peak_memory(labstac.pid),
                  "peer": peer.peak_memory(peer_process.pid)}  # fmt: skip
        checks = verdict(figures, memory)
        setup = {
            "projects": args.projects, "items": items, "rounds": args.rounds,
            "requests": args.requests, "concurrency": args.concurrency,
            "labstac": labstac_version(), "peer": peer.PEER_VERSION,
            "opensearch": opensearch_version,
            "labstac_index_seconds": round(index_seconds, 1) if index_seconds else "reused",
            "peer_load_seconds": round(load_seconds, 1) if load_seconds else "reused",
            "peak_memory_bytes": memory,
        }  # fmt: skip
        body = {"setup": setup, "parity": same, "figures": figures, "checks": checks}
        out = report.write("search", "labstac vs stac-fastapi-opensearch search", body)
        write_doc({**json.loads(out.read_text())}, out)
        print("\n".join(table(figures)))
        print("\n".join(checks_table(checks)))
        print(f"wrote {out.relative_to(ROOT)} and docs/benchmarks.md")
        return 0 if all(c["met"] for c in checks.values()) else 1
    finally:
        for process in reversed(processes):
            stop_process(process, 20)


def readable_by_anyone(ours: str) -> dict[str, Any]:
    """An item anonymous callers may read, so that every caller asks for the same one."""
    page = httpx.get(f"{ours}/search", params={"limit": 1}, timeout=60).json()
    return dict(page["features"][0])


if __name__ == "__main__":
    sys.exit(main())
