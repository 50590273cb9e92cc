"""Benchmark of the GitLab simulator itself: how long a world takes to generate, and what
one API call costs without injected latency, as a ratio to the cheapest call the same server
answers (its health endpoint) measured in the same run.

    .venv/bin/python bench/simulator.py [--projects 100000] [--calls 200]

Prints a table and writes bench/results/simulator-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent

import report  # noqa: E402  (bench/report.py)

from gitlab_sim.generator import generate  # noqa: E402
from gitlab_sim.server import SimulatorServer  # noqa: E402


def per_call_ms(client: httpx.Client, url: str, headers: dict[str, str], calls: int) -> float:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.text[:200]}")
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    started = time.perf_counter()
    world = generate(1, users=2000, groups=1500, projects=args.projects)
    generation_s = time.perf_counter() - started
    print(f"generated {args.projects} projects, 2000 users, 1500 groups in {generation_s:.1f}s")

    admin = world.token_named(1)
    member = next(
        t for t in world.tokens
        if t.name == "main" and not world.user_by_id[t.user_id].is_admin
        and world.user_by_id[t.user_id].state == "active"
        and len(world.memberships_by_user.get(t.user_id, [])) >= 3
    )  # fmt: skip
    project = next(p for p in world.projects if p.files and p.visibility == "public")
    path = quote(world.project_full_path(project), safe="")
    cases = [
        ("GET /projects/:id (admin)", f"/api/v4/projects/{path}", admin.token),
        ("GET README raw (admin)", f"/api/v4/projects/{project.id}/repository/files/README.md/raw", admin.token),
        ("GET tree recursive (admin)", f"/api/v4/projects/{project.id}/repository/tree?recursive=true", admin.token),
        ("GET /user (member)", "/api/v4/user", member.token),
        ("GET /projects?topic keyset page (admin)", "/api/v4/projects?topic=sharinghub:dataset&pagination=keyset&order_by=id&per_page=100", admin.token),
        ("GET /projects page (member)", "/api/v4/projects?per_page=100", member.token),
        ("GET /groups (member)", "/api/v4/groups?per_page=100", member.token),
    ]  # fmt: skip
    results = []
    with SimulatorServer(world) as sim, httpx.Client(base_url=sim.url, timeout=120) as client:
        floor = per_call_ms(client, "/-/sim/health", {}, args.calls)
        print(f"{'call':45} {'median ms':>10} {'x floor':>8}")
        print(f"{'floor: GET /-/sim/health':45} {floor:10.2f} {1.0:8.1f}")
        for name, url, token in cases:
            calls = args.calls if "/projects?" not in url and "/groups" not in url else 10
            median = per_call_ms(client, url, {"PRIVATE-TOKEN": token}, calls)
            results.append(
                {
                    "call": name,
                    "median_ms": round(median, 3),
                    "ratio_to_floor": round(median / floor, 2),
                    "calls": calls,
                }
            )
            print(f"{name:45} {median:10.2f} {median / floor:8.1f}")
    out = report.write(
        "simulator",
        "gitlab simulator",
        {
            "world": {"projects": args.projects, "users": 2000, "groups": 1500},
            "generation_seconds": round(generation_s, 2),
            "floor_ms": round(floor, 3),
            "calls": results,
        },
    )
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
