"""Benchmark of the event pipeline, with every piece real and in its own process: the GitLab
simulator (50 ms per call), the labstac API, worker processes, Redis and OpenSearch
(refresh interval 1 s).

1. The floor, in this process: for 30 projects, one README push, then the project re-read
   from GitLab and written (what a task does) and the wait until a search finds it. Nothing
   of the pipeline (hooks, queue, workers) is in it.
2. Hook to searchable: README pushes (the realistic event: a new title in the front
   matter) at 5, 20 and 50 per second for 10 s each, with 1, 2 and 4 worker processes (16
   threads each); for each push, the time until a search finds its title. Reported as
   p50 / p95 / max, and p95 as a ratio to the floor's p95 (measured in the same run).
   Target: at 20/s with one worker, p95 <= 2 s and <= 1.5x the floor.
3. The receiver alone under 200 concurrent deliveries, against GET /healthz under the
   same load (the server's floor), as a ratio.

    make services && .venv/bin/python bench/pipeline.py [--rates 5,20,50] [--workers 1,2,4]

Prints a table and writes bench/results/pipeline-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from opensearchpy import OpenSearch

ROOT = Path(__file__).resolve().parent.parent

import report  # noqa: E402  (bench/report.py)
from processes import serve_world, wait_http  # noqa: E402  (bench/processes.py)

from gitlab_sim.generator import generate  # noqa: E402
from gitlab_sim.world import World  # noqa: E402
from indexer.index.layout import ensure_index  # noqa: E402
from indexer.index.runtime import IndexRuntime  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of  # noqa: E402
from workers.app import create_celery_app  # noqa: E402

SECRET = "bench-hook-secret-0123456789"  # noqa: S105
LABSTAC = str(Path(sys.executable).parent / "labstac")
REDIS_DB = 10


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def figures(seconds: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(seconds), 3), "p95": round(percentile(seconds, 0.95), 3),
            "max": round(max(seconds), 3)}  # fmt: skip


class Searchable:
    """Watches the index for titles, and says how long after its push each one showed."""

    def __init__(self, client: OpenSearch, alias: str) -> None:
        self.client, self.alias = client, alias
        self.pending: dict[str, float] = {}
        self.found: dict[str, float] = {}
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll)
        self.thread.start()

    def expect(self, title: str, since: float) -> None:
        with self.lock:
            self.pending[title] = since

    def _poll(self) -> None:
        while not self.done.is_set():
            with self.lock:
                names = list(self.pending)
            if names:
                hits = self.client.search(index=self.alias, body={
                    "size": len(names), "_source": ["properties.title"],
                    "query": {"terms": {"properties.title.keyword": names}},
                })["hits"]["hits"]  # fmt: skip
                now = time.monotonic()
                with self.lock:
                    for hit in hits:
                        title = hit["_source"]["properties"]["title"]
                        if title in self.pending:
                            self.found[title] = now - self.pending.pop(title)
            time.sleep(0.02)

    def wait(self, timeout: float) -> list[float]:
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.1)
        with self.lock:
            lost = len(self.pending)
            seconds = list(self.found.values())
            self.pending.clear()
            self.found.clear()
        if lost:
            raise SystemExit(f"{lost} change(s) never became searchable")
        return seconds

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user and system), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def service_pid(name: str) -> int | None:
    """The pid of a service scripts/services.sh started (where it keeps them)."""
    home = os.environ.get("LABSTAC_SERVICES_HOME", "/var/tmp/labstac")  # noqa: S108 - its default
    pid_file = Path(home) / name / f"{name}.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


class CpuMeter:
    """Cores each part of the pipeline kept busy during a burst: where the time went."""

    def __init__(self, parts: dict[str, list[int]]) -> None:
        self.parts = parts
        self.started = time.monotonic()
        self.before = {name: sum(map(cpu_seconds, pids)) for name, pids in parts.items()}

    def cores(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.started
        return {name: round((sum(map(cpu_seconds, pids)) - self.before[name]) / elapsed, 2)
                for name, pids in self.parts.items()}  # fmt: skip


def push(sim: httpx.Client, project_id: int, title: str) -> None:
    # The title an item shows comes from the README's front matter when it has one.
    readme = f"---\ntitle: {title}\n---\n\nChanged by the pipeline benchmark.\n"
    sim.post(f"/projects/{project_id}/push", json={
        "user_id": 1, "refs": [{"ref": "main", "files": {"README.md": readme}}],
    }).raise_for_status()  # fmt: skip


def timed_floor(runtime: IndexRuntime, sim_url: str, watcher: Searchable,
                project_ids: list[int]) -> list[float]:  # fmt: skip
    samples = []
    with httpx.Client(base_url=f"{sim_url}/-/sim", timeout=30) as sim:
        for project_id in project_ids:
            title = f"floor {uuid.uuid4().hex[:12]}"
            push(sim, project_id, title)
            watcher.expect(title, time.monotonic())
            runtime.project_sync().sync(project_id)
            samples += watcher.wait(30)
    return samples


def burst(sim_url: str, watcher: Searchable, project_ids: list[int], rate: float,
          seconds: float) -> list[float]:  # fmt: skip
    """Pushes at ``rate`` per second for ``seconds``, each to a project not pushed in the
    same burst (so that no two coalesce), paced on the clock, not on the pushes' speed."""
    count = int(rate * seconds)
    chosen = project_ids[:count]
    started = time.monotonic()
    with httpx.Client(base_url=f"{sim_url}/-/sim", timeout=30) as sim:
        for n, project_id in enumerate(chosen):
            due = started + n / rate
            time.sleep(max(0.0, due - time.monotonic()))
            title = f"bench {uuid.uuid4().hex[:12]}"
            watcher.expect(title, time.monotonic())
            push(sim, project_id, title)
    return watcher.wait(120)


def start_workers(env: dict[str, str], settings: Settings, count: int,
                  concurrency: int) -> list[subprocess.Popen[bytes]]:  # fmt: skip
    names = [f"bench{n}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}" for n in range(count)]
    workers = [
        subprocess.Popen([LABSTAC, "worker", "--concurrency", str(concurrency), "--name", name],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in names
    ]  # fmt: skip
    app = create_celery_app(settings)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answered = app.control.ping(destination=names, timeout=1)
        if len(answered) == count:
            app.close()
            return workers
    raise SystemExit("the workers did not start")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(60)


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
                    raise SystemExit("unexpected answer during the load")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def pushable(world: World) -> list[int]:
    """Indexed projects one can push to (an archived project is read-only)."""
    return [p.id for p in world.projects if p.repository_access_level != "disabled"
            and not p.archived and categories_of(p.topics, DEFAULT_CATEGORIES)]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="5,20,50", help="pushes per second")
    parser.add_argument("--workers", default="1,2,4", help="worker processes")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each burst")
    parser.add_argument("--threads", type=int, default=16, help="threads per worker")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--floor-samples", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=4000)
    parser.add_argument("--sim-port", type=int, default=18091)
    parser.add_argument("--api-port", type=int, default=18001)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]

    world = generate(9, users=50, groups=40, projects=1200)
    admin = world.token_named(1).token
    scratch = Path(tempfile.mkdtemp())
    simulator, sim_url = serve_world(world, scratch / "world.json", args.sim_port, args.latency_ms)
    processes = [simulator]
    api_url = f"http://127.0.0.1:{args.api_port}"
    prefix, queue = f"bench{uuid.uuid4().hex[:6]}", f"bench-{uuid.uuid4().hex[:6]}"
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LABSTAC_")},
           "LABSTAC_GITLAB_URL": sim_url, "LABSTAC_GITLAB_TOKEN": admin,
           "LABSTAC_WEBHOOK_SECRETS": SECRET, "LABSTAC_INDEX_PREFIX": prefix,
           "LABSTAC_TASK_QUEUE": queue, "LABSTAC_REDIS_URL": redis_url,
           "LABSTAC_PORT": str(args.api_port), "LABSTAC_STATE_DIR": str(scratch / "state"),
           "LABSTAC_LOG_LEVEL": "WARNING"}  # fmt: skip
    settings = Settings(
        gitlab_url=sim_url,
        gitlab_token=admin,
        index_prefix=prefix,
        redis_url=redis_url,
        task_queue=queue,
    )  # type: ignore[arg-type]
    runtime = IndexRuntime(settings)
    watcher: Searchable | None = None
    try:
        ensure_index(runtime.engine, runtime.layout)
        with open(os.devnull, "w") as quiet:
            runtime.rebuild(concurrency=16, stream=quiet).run()
        client = OpenSearch(hosts=["http://127.0.0.1:9200"])
        watcher = Searchable(client, runtime.layout.read_alias)
        projects = pushable(world)
        floor = timed_floor(runtime, sim_url, watcher, projects[-args.floor_samples :])
        floor_figures = figures(floor)
        print(f"floor (one project re-read, written and found, in-process): "
              f"p50 {floor_figures['p50']:.2f}s, p95 {floor_figures['p95']:.2f}s")  # fmt: skip

        api = subprocess.Popen([LABSTAC, "serve"], env=env, stderr=subprocess.DEVNULL)
        processes.append(api)
        wait_http(f"{api_url}/healthz", api)
        httpx.post(f"{sim_url}/-/sim/hooks", json={"kind": "system", "url": f"{api_url}/hooks/gitlab",
                                                   "token": SECRET}).raise_for_status()  # fmt: skip
        rows: list[dict[str, Any]] = []
        print(f"{'workers':>7} {'rate/s':>7} {'events':>6}  {'p50':>6} {'p95':>6} {'max':>6}"
              "  p95/floor  cores: simulator api workers opensearch redis benchmark")  # fmt: skip
        offset = 0
        for count in worker_counts:
            workers = start_workers(env, settings, count, args.threads)
            try:
                for rate in rates:
                    needed = int(rate * args.seconds)
                    chosen = projects[offset : offset + needed]
                    if len(chosen) < needed:  # reuse projects once all were pushed
                        offset, chosen = 0, projects[:needed]
                    offset += needed
                    meter = CpuMeter({
                        "simulator": [simulator.pid], "api": [api.pid],
                        "workers": [w.pid for w in workers],
                        "opensearch": [p for p in [service_pid("opensearch")] if p],
                        "redis": [p for p in [service_pid("redis")] if p],
                        "benchmark": [os.getpid()],
                    })  # fmt: skip
                    seconds = burst(sim_url, watcher, chosen, rate, args.seconds)
                    row = {"workers": count, "rate": rate, "events": len(seconds),
                           **figures(seconds), "cores": meter.cores()}  # fmt: skip
                    row["p95_to_floor"] = round(row["p95"] / floor_figures["p95"], 2)
                    rows.append(row)
                    print(f"{count:>7} {rate:>7g} {len(seconds):>6}  {row['p50']:>5.2f}s "
                          f"{row['p95']:>5.2f}s {row['max']:>5.2f}s  {row['p95_to_floor']:>8.2f}x  "
                          + " ".join(f"{v:.2f}" for v in row["cores"].values()))  # fmt: skip
                    time.sleep(2)  # let the queue drain between bursts
            finally:
                stop(workers)

        floor_s, floor_lat = asyncio.run(
            load(api_url, args.concurrency, args.deliveries, post=False)
        )
        hook_s, hook_lat = asyncio.run(load(api_url, args.concurrency, args.deliveries, post=True))
        receiver = [{"request": name, "rps": round(len(lat) / elapsed, 1),
                     "p50_ms": round(1000 * statistics.median(lat), 1),
                     "p99_ms": round(1000 * percentile(lat, 0.99), 1)}
                    for name, elapsed, lat in (("GET /healthz (floor)", floor_s, floor_lat),
                                               ("POST /hooks/gitlab", hook_s, hook_lat))]  # fmt: skip
        ratio = receiver[1]["rps"] / receiver[0]["rps"]
        print(f"receiver: {receiver[1]['rps']:.0f} hooks/s, {ratio:.2f}x the rate of GET /healthz")
        target = next((r for r in rows if r["workers"] == 1 and r["rate"] == 20), None)
        met = bool(target and target["p95"] <= 2.0 and target["p95_to_floor"] <= 1.5)
        out = report.write("pipeline", "event pipeline", {
            "gitlab_latency_ms": args.latency_ms, "seconds_per_burst": args.seconds,
            "threads_per_worker": args.threads, "floor_seconds": floor_figures,
            "hook_to_searchable": rows, "target_met": met,
            "receiver": {"concurrency": args.concurrency, "requests": args.deliveries,
                         "rows": receiver, "throughput_ratio_to_floor": round(ratio, 3)},
        })  # fmt: skip
        print(
            f"target (20/s, one worker: p95 <= 2 s and <= 1.5x the floor): "
            f"{'met' if met else 'NOT met'}; wrote {out.relative_to(ROOT)}"
        )
        return 0 if met else 1
    finally:
        if watcher is not None:
            watcher.stop()
        runtime.engine.delete_index(f"{prefix}-items-v*")
        runtime.redis.flushdb()
        runtime.close()
        stop(list(reversed(processes)))


if __name__ == "__main__":
    sys.exit(main())
