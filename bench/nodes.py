"""``bench/search.py --nodes 3``: labstac's search benchmark on a three-node OpenSearch
cluster next to one node, in the same run, with the same world, queries and callers.

1. The single node (``make services``) and a local three-node cluster (scripts/services.sh
   with OPENSEARCH_NODES=3, ports 9210-9212, started here when it is not running) each get
   the world indexed by labstac: one shard and no replica on the node; on the cluster,
   three shards with one replica, and one shard with two replicas (the layout
   docs/operations.md recommends, which this benchmark's figures support).
2. Two ``labstac serve`` processes, one per engine (the cluster one given all three
   addresses), answer the query mix of bench/search.py as anonymous, admin, a user in 5
   groups and one in 500; both must match the same items before anything is timed.
3. Rounds interleave the two, rotating their order; each cell's p50/p99/throughput is
   reported with the ratio cluster / node.

All nodes share this machine's cores, so the figures show what fanning a search out over
shards and nodes costs here, not what more machines would add (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import report  # bench/report.py
import search as bench  # bench/search.py: the world, queries, timing and figures
from engine_cluster import EngineCluster  # tests/helpers/engine_cluster.py
from processes import serve_world
from support import stop_process

from indexer.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Each engine set-up: its port, shards and replicas. On three nodes, three shards spread
# each search over every node; one shard with two replicas keeps a whole copy on each.
PORTS = {"1 node": 18193, "3 nodes": 18194, "3 nodes, 1 shard": 18195}
LAYOUTS = {"1 node": (1, 0), "3 nodes": (3, 1), "3 nodes, 1 shard": (1, 2)}  # shards, replicas
PREFIXES = {"1 node": "benchnodes1", "3 nodes": "benchnodes3", "3 nodes, 1 shard": "benchnodes31"}
CLUSTERED = [engine for engine in PORTS if engine != "1 node"]
GENERATED_START = "<!-- written by bench/search.py --nodes 3: from here -->"
GENERATED_END = "<!-- written by bench/search.py --nodes 3: to here -->"


def engine_urls(cluster: EngineCluster) -> dict[str, str]:
    return {engine: bench.OPENSEARCH if engine == "1 node" else ",".join(cluster.urls)
            for engine in PORTS}  # fmt: skip


def settings_for(engine: str, urls: str, sim_url: str, admin: str) -> Settings:
    shards, replicas = LAYOUTS[engine]
    return Settings(
        gitlab_url=sim_url, gitlab_token=admin, redis_url=bench.REDIS, opensearch_url=urls,
        index_prefix=PREFIXES[engine], index_shards=shards, index_replicas=replicas,
        state_dir=bench.STATE / "state",
    )  # type: ignore[arg-type]  # fmt: skip


def serve(engine: str, settings: Settings, urls: str) -> subprocess.Popen[bytes]:
    shards, replicas = LAYOUTS[engine]
    token = settings.gitlab_token.get_secret_value() if settings.gitlab_token else ""
    return bench.serve_labstac(PORTS[engine], {
        "LABSTAC_GITLAB_URL": str(settings.gitlab_url), "LABSTAC_GITLAB_TOKEN": token,
        "LABSTAC_INDEX_PREFIX": settings.index_prefix, "LABSTAC_OPENSEARCH_URL": urls,
        "LABSTAC_INDEX_SHARDS": str(shards), "LABSTAC_INDEX_REPLICAS": str(replicas),
    })  # fmt: skip


def same_answers(targets: dict[str, dict[str, bench.Target]]) -> list[str]:
    """Where the node and the cluster disagree (matched counts, or the page's items)."""
    problems = []
    with httpx.Client(timeout=60) as client:
        for query, by_label in targets.items():
            for caller in bench.CALLERS:
                pages = {engine: client.request(t.method, t.url, headers=t.headers,
                                                params=t.params, json=t.body)
                         for engine in PORTS
                         for t in [by_label[f"{engine}:{caller}"]]}  # fmt: skip
                bodies = {engine: page.json() for engine, page in pages.items()}
                matched = {e: b.get("numberMatched") for e, b in bodies.items()}
                ids = {e: sorted(bench.page_ids(p)) for e, p in pages.items()}
                if len(set(matched.values())) > 1 or any(ids[e] != ids["1 node"] for e in ids):
                    problems.append(f"{query} as {caller}: {matched}")
    return problems


def ratios(figures: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Each clustered set-up / one node, for each query and caller, and their geometric
    means."""
    result: dict[str, Any] = {}
    for engine in CLUSTERED:
        per_cell: dict[str, dict[str, float]] = {"p50": {}, "p99": {}, "rps": {}}
        for query, by_label in figures.items():
            for caller in bench.CALLERS:
                one, many = by_label[f"1 node:{caller}"], by_label[f"{engine}:{caller}"]
                cell = f"{query} / {caller}"
                per_cell["p50"][cell] = many["p50_ms"] / one["p50_ms"]
                per_cell["p99"][cell] = many["p99_ms"] / one["p99_ms"]
                per_cell["rps"][cell] = many["rps"] / one["rps"]
        result[engine] = {
            stat: {"geomean": round(bench.geomean(list(cells.values())), 3),
                   "min": round(min(cells.values()), 3), "max": round(max(cells.values()), 3),
                   "per_cell": {c: round(r, 3) for c, r in cells.items()}}
            for stat, cells in per_cell.items()
        }  # fmt: skip
    return result


def table(figures: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    engines = " / ".join(PORTS)
    lines = [f"| query | caller | p50 ms ({engines}) | p99 ms | req/s |", "|---|---|---|---|---|"]
    for query, by_label in figures.items():
        for caller in bench.CALLERS:
            rows = [by_label[f"{engine}:{caller}"] for engine in PORTS]
            p50 = " / ".join(f"{row['p50_ms']:.1f}" for row in rows)
            p99 = " / ".join(f"{row['p99_ms']:.1f}" for row in rows)
            rps = " / ".join(f"{row['rps']:.0f}" for row in rows)
            lines.append(f"| {query} | {caller} | {p50} | {p99} | {rps} |")
    return lines


def write_doc(result: dict[str, Any], out: Path) -> None:
    setup, summary = result["setup"], result["ratios"]
    lines = [
        "## One node and three nodes",
        "",
        "Written by `python bench/search.py --nodes 3`. The full report: "
        f"`{out.relative_to(ROOT)}`.",
        "",
        f"- When: {result['when']}; machine: {result['machine']['cpus']} CPUs "
        f"({result['machine']['cpu']}); OpenSearch {setup['opensearch']}, "
        f"{setup['heap']} heap per cluster node. All nodes share this machine's cores.",
        f"- Command: `{result['command']}`.",
        f"- World: {setup['projects']} projects, {setup['items']} items, indexed in "
        + "; ".join(f"{seconds} s on {engine} ({LAYOUTS[engine][0]} shard(s), "
                    f"{LAYOUTS[engine][1]} replica(s))"
                    for engine, seconds in setup["index_seconds"].items()) + ".",
        f"- Load: {setup['rounds']} rounds x {setup['requests']} requests per query, caller "
        f"and engine set-up, {setup['concurrency']} concurrent; one `labstac serve` per "
        "set-up, the clustered ones given all three addresses.",
        "",
        "| ratio to 1 node | p50 latency | p99 latency | throughput |",
        "|---|---|---|---|",
        *(f"| {engine} | " + " | ".join(
            f"{summary[engine][stat]['geomean']:.2f} ({summary[engine][stat]['min']:.2f}-"
            f"{summary[engine][stat]['max']:.2f})" for stat in ("p50", "p99", "rps")) + " |"
          for engine in CLUSTERED),
        "",
        "Geometric means over every query and caller, lowest and highest in brackets.",
        "",
        *table(result["figures"]),
        "",
    ]  # fmt: skip
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text()
    if GENERATED_START not in text:
        text += f"\n{GENERATED_START}\n{GENERATED_END}\n"
    before, _, rest = text.partition(GENERATED_START)
    _, _, after = rest.partition(GENERATED_END)
    doc.write_text(f"{before}{GENERATED_START}\n" + "\n".join(lines) + f"{GENERATED_END}{after}")


def main(args: argparse.Namespace) -> int:
    opensearch_version = bench.check_services()
    bench.STATE.mkdir(parents=True, exist_ok=True)
    cluster = EngineCluster(9210, 9310)
    print(f"three-node cluster: up in {cluster.up():.0f} s")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        print(f"world: {args.projects} projects ...")
        world, tokens = bench.bench_world(args.projects)
        simulator, sim_url = serve_world(world, bench.STATE / f"world-{args.projects}.json",
                                         bench.SIM_PORT)  # fmt: skip
        processes.append(simulator)
        admin = str(tokens["admin"])
        urls = engine_urls(cluster)
        counts: dict[str, int] = {}
        index_seconds: dict[str, float | str] = {}
        for engine in PORTS:
            settings = settings_for(engine, urls[engine], sim_url, admin)
            counts[engine], took = bench.labstac_index(settings, args.projects, args.reuse)
            index_seconds[engine] = round(took, 1) if took else "reused"
            print(f"{engine}: {counts[engine]} items indexed ({index_seconds[engine]} s)")
            processes.append(serve(engine, settings, urls[engine]))
        if len(set(counts.values())) > 1:
            raise SystemExit(f"the engines hold different item counts: {counts}")
        with cluster.client() as client:
            cluster.wait_green(client)

        base = {engine: f"http://127.0.0.1:{port}{bench.STAC}" for engine, port in PORTS.items()}
        queries = bench.query_mix(bench.readable_by_anyone(base["1 node"]))
        targets: dict[str, dict[str, bench.Target]] = {}
        with httpx.Client(timeout=60) as client:
            for query in queries:
                by_label: dict[str, bench.Target] = {}
                for engine in PORTS:
                    for caller in bench.CALLERS:
                        target = bench.api_target(engine, caller, base[engine], query,
                                                  tokens[caller])  # fmt: skip
                        if query.name == "tenth page":
                            target = bench.tenth_page(client, target)
                        by_label[target.label] = target
                targets[query.name] = by_label
        problems = same_answers(targets)
        if problems:
            raise SystemExit("the node and the cluster answer differently:\n" + "\n".join(problems))
        print(f"timing: {args.rounds} rounds x {args.requests} requests x "
              f"{len(queries) * len(PORTS) * len(bench.CALLERS)} cells, {args.concurrency} "
              "concurrent")  # fmt: skip
        began = time.perf_counter()
        figures = asyncio.run(bench.measure(targets, args.rounds, args.requests,
                                            args.concurrency))  # fmt: skip
        summary = ratios(figures)
        setup = {
            "projects": args.projects, "items": counts["1 node"], "rounds": args.rounds,
            "requests": args.requests, "concurrency": args.concurrency,
            "opensearch": opensearch_version, "heap": cluster.heap,
            "layouts": {e: {"shards": s, "replicas": r} for e, (s, r) in LAYOUTS.items()},
            "index_seconds": index_seconds,
            "timing_seconds": round(time.perf_counter() - began, 1),
        }  # fmt: skip
        body = {"setup": setup, "figures": figures, "ratios": summary}
        out = report.write("search-nodes", "labstac search, 1 node vs 3 nodes", body)
        write_doc(json.loads(out.read_text()), out)
        print("\n".join(table(figures)))
        for engine in CLUSTERED:
            print(f"{engine} / 1 node: " + ", ".join(
                f"{stat} {summary[engine][stat]['geomean']:.2f}" for stat in ("p50", "p99", "rps")
            ))  # fmt: skip
        print(f"wrote {out.relative_to(ROOT)} and docs/benchmarks.md")
        return 0
    finally:
        for process in reversed(processes):
            stop_process(process, 20)
        if cluster.started_here:
            cluster.down()
