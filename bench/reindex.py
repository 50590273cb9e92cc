"""Benchmark of `labstac reindex` against a GitLab that answers in 50 ms per call.

Baseline, measured in the same run: only *reading* the same projects (the same listing and
the same per-project reads, with the same concurrency), writing nothing. The target: a full
reindex within 1.3x of that read time, i.e. index writing hides behind GitLab's latency.
Runs alternate (read, reindex, read, reindex, ...) so that a noisy neighbour hurts both.

    make services && .venv/bin/python bench/reindex.py [--projects 6700] [--rounds 2]

Prints a table and writes bench/results/reindex-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import report  # noqa: E402  (bench/report.py)
from processes import serve_world  # noqa: E402  (bench/processes.py)

from gitlab_sim.generator import generate  # noqa: E402
from indexer.gitlab.facts import GroupInfo  # noqa: E402
from indexer.index.layout import ensure_index  # noqa: E402
from indexer.index.runtime import IndexRuntime  # noqa: E402
from indexer.settings import Settings  # noqa: E402


def read_only(runtime: IndexRuntime, concurrency: int) -> tuple[float, int]:
    """The same GitLab reads a reindex makes, and nothing else."""
    started = time.perf_counter()
    groups: dict[int, GroupInfo] = {}
    ids = set(runtime.reader(groups).projects_in(c.gitlab_topic for c in runtime.categories))
    local = threading.local()

    def read(project_id: int) -> None:
        if not hasattr(local, "reader"):
            local.reader = runtime.reader(groups)
        project = local.reader.project(project_id)
        facts = local.reader.access_facts(project)
        if facts.namespace_kind == "group":
            local.reader.group(facts.namespace_id)
        if facts.indexable:
            local.reader.snapshot(project)  # README, tree, latest release

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(read, sorted(ids)))
    return time.perf_counter() - started, len(ids)


def reindex(runtime: IndexRuntime, concurrency: int) -> tuple[float, int]:
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        summary = runtime.rebuild(concurrency=concurrency, stream=quiet).run()
    if summary.failed or not summary.swapped:
        raise SystemExit(f"reindex failed: {summary.failed[:5]}")
    return time.perf_counter() - started, summary.seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=6700, help="world size (75%% indexed)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=18090)
    args = parser.parse_args()

    world = generate(7, users=200, groups=150, projects=args.projects)
    admin = world.token_named(1).token
    world_file = Path(tempfile.mkdtemp()) / "world.json"
    simulator, url = serve_world(world, world_file, args.port, args.latency_ms)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    try:
        settings = Settings(
            gitlab_url=url,
            gitlab_token=admin,
            index_prefix=prefix,
            redis_url=os.environ.get("LABSTAC_REDIS_URL", "redis://127.0.0.1:6379/9"),
        )  # type: ignore[arg-type]
        runtime = IndexRuntime(settings)
        ensure_index(runtime.engine, runtime.layout)
        reads, reindexes = [], []
        projects = 0
        for round_ in range(1, args.rounds + 1):
            seconds, projects = read_only(runtime, args.concurrency)
            reads.append(seconds)
            print(
                f"round {round_}: read only  {seconds:7.1f}s  {projects / seconds:6.1f} projects/s"
            )
            seconds, projects = reindex(runtime, args.concurrency)
            reindexes.append(seconds)
            print(
                f"round {round_}: reindex    {seconds:7.1f}s  {projects / seconds:6.1f} projects/s"
            )
        read_s, reindex_s = statistics.median(reads), statistics.median(reindexes)
        ratio = reindex_s / read_s
        print(
            f"\n{projects} projects, {args.latency_ms:g} ms per GitLab call, concurrency {args.concurrency}"
        )
        print(
            f"reindex {reindex_s:.1f}s ({projects / reindex_s:.1f}/s) vs read only {read_s:.1f}s: "
            f"ratio {ratio:.2f} (target <= 1.30)"
        )
        out = report.write("reindex", "reindex vs read-only, same run", {
            "projects": projects, "latency_ms": args.latency_ms, "concurrency": args.concurrency,
            "read_only_seconds": [round(s, 2) for s in reads],
            "reindex_seconds": [round(s, 2) for s in reindexes],
            "reindex_projects_per_second": round(projects / reindex_s, 1),
            "ratio_reindex_to_read": round(ratio, 3), "target": 1.3,
        })  # fmt: skip
        print(f"wrote {out.relative_to(ROOT)}")
        runtime.engine.delete_index(f"{prefix}-items-v*")
        runtime.close()
        return 0 if ratio <= 1.3 else 1
    finally:
        simulator.terminate()
        simulator.wait(10)


if __name__ == "__main__":
    sys.exit(main())
