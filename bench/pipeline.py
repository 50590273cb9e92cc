"""Benchmark of the event pipeline, with every piece real and in its own process: the GitLab
simulator (50 ms per call), the labstac API and a worker, Redis and OpenSearch (refresh
interval 1 s).

1. Hook-to-searchable latency: 200 pushes of a README with a new title, 20 per second; for
   each, the time from the push until a search finds the new title. Target: p95 <= 2 s.
2. The receiver alone under 200 concurrent deliveries: requests per second and latency
   percentiles, against GET /healthz under the same load in the same run (the server's
   floor), as a ratio.

    make services && .venv/bin/python bench/pipeline.py [--events 200]

Prints a table and writes bench/results/pipeline-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from opensearchpy import OpenSearch

ROOT = Path(__file__).resolve().parent.parent

import report  # noqa: E402  (bench/report.py)
from processes import serve_world, wait_http  # noqa: E402  (bench/processes.py)

from gitlab_sim.generator import generate  # noqa: E402
from indexer.index.layout import ensure_index  # noqa: E402
from indexer.index.runtime import IndexRuntime  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of  # noqa: E402

SECRET = "bench-hook-secret-0123456789"  # noqa: S105
LABSTAC = str(Path(sys.executable).parent / "labstac")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def latency_run(sim_url: str, client: OpenSearch, alias: str, project_ids: list[int],
                rate: float) -> list[float]:  # fmt: skip
    pending: dict[str, float] = {}
    found: dict[str, float] = {}
    lock = threading.Lock()
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            with lock:
                names = list(pending)
            if names:
                hits = client.search(index=alias, body={
                    "size": len(names), "_source": ["properties.title"],
                    "query": {"terms": {"properties.title.keyword": names}},
                })["hits"]["hits"]  # fmt: skip
                now = time.monotonic()
                with lock:
                    for hit in hits:
                        title = hit["_source"]["properties"]["title"]
                        if title in pending:
                            found[title] = now - pending.pop(title)
            time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    with httpx.Client(base_url=f"{sim_url}/-/sim", timeout=30) as sim:
        for project_id in project_ids:
            name = f"bench {uuid.uuid4().hex[:12]}"
            with lock:
                pending[name] = time.monotonic()
            # A push of a README with a new title: the title an item shows comes from the
            # README's front matter when it has one, as generated projects do.
            readme = f"---\ntitle: {name}\n---\n\nChanged by the pipeline benchmark.\n"
            response = sim.post(f"/projects/{project_id}/push", json={
                "user_id": 1, "refs": [{"ref": "main", "files": {"README.md": readme}}],
            })  # fmt: skip
            response.raise_for_status()
            time.sleep(1 / rate)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    poller.join()
    if pending:
        raise SystemExit(f"{len(pending)} change(s) never became searchable")
    return list(found.values())


async def load(url: str, concurrency: int, total: int, post: bool) -> tuple[float, list[float]]:
    payload = json.loads(
        (ROOT / "tests/fixtures/gitlab_hooks/system_hook.project_update.json").read_text()
    )
    payload = {k: v for k, v in payload.items() if not k.startswith("_")}
    latencies: list[float] = []
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def user() -> None:
            for n in counter:
                started = time.perf_counter()
                if post:
                    response = await client.post("/hooks/gitlab", json={**payload, "project_id": 10_000 + n},
                                                 headers={"X-Gitlab-Token": SECRET, "X-Gitlab-Event": "System Hook",
                                                          "Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
                    ok = response.status_code == 202
                else:
                    ok = (await client.get("/healthz")).status_code == 200
                if not ok:
                    raise SystemExit(f"unexpected answer during the load: {response.status_code}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=4000)
    parser.add_argument("--sim-port", type=int, default=18091)
    parser.add_argument("--api-port", type=int, default=18001)
    args = parser.parse_args()

    world = generate(9, users=50, groups=40, projects=600)
    admin = world.token_named(1).token
    scratch = Path(tempfile.mkdtemp())
    simulator, sim_url = serve_world(world, scratch / "world.json", args.sim_port, args.latency_ms)
    processes = [simulator]
    api_url = f"http://127.0.0.1:{args.api_port}"
    prefix, queue = f"bench{uuid.uuid4().hex[:6]}", f"bench-{uuid.uuid4().hex[:6]}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LABSTAC_")},
           "LABSTAC_GITLAB_URL": sim_url, "LABSTAC_GITLAB_TOKEN": admin,
           "LABSTAC_WEBHOOK_SECRETS": SECRET, "LABSTAC_INDEX_PREFIX": prefix,
           "LABSTAC_TASK_QUEUE": queue, "LABSTAC_REDIS_URL": "redis://127.0.0.1:6379/10",
           "LABSTAC_PORT": str(args.api_port), "LABSTAC_STATE_DIR": str(scratch / "state"),
           "LABSTAC_LOG_LEVEL": "WARNING"}  # fmt: skip
    try:
        settings = Settings(
            gitlab_url=sim_url,
            gitlab_token=admin,
            index_prefix=prefix,  # type: ignore[arg-type]
            redis_url="redis://127.0.0.1:6379/10",
            task_queue=queue,
        )  # type: ignore[arg-type]
        runtime = IndexRuntime(settings)
        ensure_index(runtime.engine, runtime.layout)
        with open(os.devnull, "w") as quiet:
            runtime.rebuild(concurrency=16, stream=quiet).run()
        processes.append(subprocess.Popen([LABSTAC, "serve"], env=env, stderr=subprocess.DEVNULL))
        worker = subprocess.Popen([LABSTAC, "worker", "--concurrency", "4"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        processes.append(worker)
        wait_http(f"{api_url}/healthz")
        time.sleep(3)  # the worker's start-up
        httpx.post(f"{sim_url}/-/sim/hooks", json={"kind": "system", "url": f"{api_url}/hooks/gitlab",
                                                   "token": SECRET}).raise_for_status()  # fmt: skip
        # Indexed projects one can push to (an archived project is read-only).
        indexed = [p.id for p in world.projects if p.repository_access_level != "disabled"
                   and not p.archived and categories_of(p.topics, DEFAULT_CATEGORIES)]  # fmt: skip
        chosen = (indexed * (args.events // len(indexed) + 1))[: args.events]
        client = OpenSearch(hosts=["http://127.0.0.1:9200"])
        seconds = latency_run(sim_url, client, runtime.layout.read_alias, chosen, args.rate)
        p50, p95 = statistics.median(seconds), percentile(seconds, 0.95)
        print(
            f"hook to searchable, {len(seconds)} events at {args.rate:g}/s, "
            f"{args.latency_ms:g} ms per GitLab call: p50 {p50:.2f}s, p95 {p95:.2f}s, "
            f"max {max(seconds):.2f}s (target p95 <= 2 s)"
        )

        worker.terminate()  # the receiver alone from here
        worker.wait(30)
        floor_s, floor = asyncio.run(load(api_url, args.concurrency, args.deliveries, post=False))
        hook_s, hooks = asyncio.run(load(api_url, args.concurrency, args.deliveries, post=True))
        runtime.redis.delete(queue)
        rows = []
        for name, elapsed, lat in (("GET /healthz (floor)", floor_s, floor),
                                   ("POST /hooks/gitlab", hook_s, hooks)):  # fmt: skip
            rows.append({"request": name, "rps": round(len(lat) / elapsed, 1),
                         "p50_ms": round(1000 * statistics.median(lat), 1),
                         "p99_ms": round(1000 * percentile(lat, 0.99), 1)})  # fmt: skip
            print(
                f"{name:22} {rows[-1]['rps']:8.1f} req/s  p50 {rows[-1]['p50_ms']:7.1f} ms"
                f"  p99 {rows[-1]['p99_ms']:7.1f} ms   ({args.concurrency} concurrent)"
            )
        ratio = rows[0]["rps"] / rows[1]["rps"]
        print(f"receiver throughput: {1 / ratio:.2f}x the floor's")
        out = report.write("pipeline", "event pipeline", {
            "gitlab_latency_ms": args.latency_ms, "events": len(seconds), "rate_per_second": args.rate,
            "hook_to_searchable_seconds": {"p50": round(p50, 3), "p95": round(p95, 3),
                                           "max": round(max(seconds), 3)},
            "receiver": {"concurrency": args.concurrency, "requests": args.deliveries, "rows": rows,
                         "throughput_ratio_to_floor": round(1 / ratio, 3)},
        })  # fmt: skip
        print(f"wrote {out.relative_to(ROOT)}")
        runtime.engine.delete_index(f"{prefix}-items-v*")
        runtime.redis.flushdb()
        runtime.close()
        return 0 if p95 <= 2.0 else 1
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    sys.exit(main())
