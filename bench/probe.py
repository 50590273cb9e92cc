"""Benchmark of MLflow SharingHub's permission probe (`/api/check/<id>?info=true`) against
a search by id (`/search?ids=<path>`) on the same API, index and callers, in the same run: the
probe must answer from the index and the cached memberships, as fast as a search by id.

    .venv/bin/python bench/probe.py [--projects 1000] [--calls 300]

Needs `make services`. Prints p50/p95 of both, per caller kind, and their ratio, and writes
bench/results/probe-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from opensearchpy import OpenSearch

ROOT = Path(__file__).resolve().parent.parent

import report  # noqa: E402  (bench/report.py)
from processes import serve_world, wait_http  # noqa: E402

from gitlab_sim.generator import generate  # noqa: E402
from gitlab_sim.permissions import Caller, Oracle  # noqa: E402
from indexer.index.layout import ensure_index  # noqa: E402
from indexer.index.runtime import IndexRuntime  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of  # noqa: E402

LABSTAC = str(Path(sys.executable).parent / "labstac")
SIM_PORT, API_PORT = 18391, 18392


def timings(client: httpx.Client, requests: list[tuple[str, dict[str, str]]]) -> list[float]:
    samples = []
    for url, headers in requests:
        started = time.perf_counter()
        answer = client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{url}: {answer.status_code} {answer.text[:200]}")
    return samples


def quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": round(statistics.median(ordered), 3),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    world = generate(7, users=80, groups=60, projects=args.projects)
    admin = world.token_named(1, "admin-mode").token
    prefix = f"probe{uuid.uuid4().hex[:8]}"
    state = Path(tempfile.mkdtemp(prefix="labstac-probe-"))
    sim, sim_url = serve_world(world, state / "world.json", SIM_PORT)
    api = None
    settings = Settings(gitlab_url=sim_url, gitlab_token=admin, index_prefix=prefix,
                        redis_url="redis://127.0.0.1:6379/11", state_dir=state)  # fmt: skip
    runtime = IndexRuntime(settings)
    try:
        ensure_index(runtime.engine, runtime.layout)
        with open(os.devnull, "w") as quiet:
            runtime.rebuild(stream=quiet).run()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("LABSTAC_")},
               "LABSTAC_GITLAB_URL": sim_url, "LABSTAC_GITLAB_TOKEN": admin,
               "LABSTAC_INDEX_PREFIX": prefix, "LABSTAC_REDIS_URL": str(settings.redis_url),
               "LABSTAC_PORT": str(API_PORT), "LABSTAC_STATE_DIR": str(state),
               "LABSTAC_LOG_LEVEL": "WARNING"}  # fmt: skip
        api = subprocess.Popen([LABSTAC, "serve"], env=env, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{API_PORT}"
        wait_http(f"{base}/healthz", api)
        rng = random.Random(3)
        callers = {
            "admin": admin,
            "member": next(t.token for t in world.tokens if t.name == "main"
                           and not world.user_by_id[t.user_id].is_admin
                           and world.user_by_id[t.user_id].state == "active"
                           and len(world.memberships_by_user.get(t.user_id, [])) >= 5),
        }  # fmt: skip
        rows = []
        with httpx.Client(base_url=base, timeout=30) as client:
            for kind, token in callers.items():
                oracle = Oracle(world, Caller.with_token(world, world.token_by_value[token]))
                readable = [p for p in world.projects if oracle.can_read_repository(p)
                            and categories_of(p.topics, DEFAULT_CATEGORIES)]  # fmt: skip
                chosen = [rng.choice(readable) for _ in range(args.calls)]
                headers = {"X-Gitlab-Token": token}
                probes = [(f"/api/check/{p.id}?info=true", headers) for p in chosen]
                searches = [(f"/api/v1/stac/search?ids={world.project_full_path(p)}", headers)
                            for p in chosen]  # fmt: skip
                timings(client, probes[:20] + searches[:20])  # warm: caches, connections
                # Interleaved halves, so that a slower moment of the machine hits both.
                probe_ms: list[float] = []
                search_ms: list[float] = []
                for start in range(0, args.calls, 50):
                    probe_ms += timings(client, probes[start : start + 50])
                    search_ms += timings(client, searches[start : start + 50])
                probe, search = quantiles(probe_ms), quantiles(search_ms)
                ratio = round(probe["p50"] / search["p50"], 2)
                rows.append({"caller": kind, "probe_ms": probe, "search_by_id_ms": search,
                             "p50_ratio": ratio, "calls": args.calls})  # fmt: skip
                print(f"{kind:7} probe p50 {probe['p50']:6.2f} ms p95 {probe['p95']:6.2f} | "
                      f"search by id p50 {search['p50']:6.2f} ms p95 {search['p95']:6.2f} | "
                      f"probe/search {ratio:.2f}x")  # fmt: skip
        out = report.write("probe", "permission probe vs search by id",
                           {"projects": args.projects, "rows": rows})  # fmt: skip
        print(f"wrote {out.relative_to(ROOT)}")
        return 0
    finally:
        if api is not None:
            api.terminate()
            api.wait(10)
        sim.terminate()
        sim.wait(10)
        runtime.close()
        engine = OpenSearch(hosts=[str(url) for url in settings.opensearch_url])
        engine.indices.delete(index=f"{prefix}-items-v*", ignore_unavailable=True)
        engine.indices.delete_index_template(name=f"{prefix}-items", ignore=[404])


if __name__ == "__main__":
    sys.exit(main())
