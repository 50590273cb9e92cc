"""The simulator's command line.

    python -m gitlab_sim generate --seed 7 --users 20 --groups 15 --projects 50 -o world.json
    python -m gitlab_sim serve --world world.json --port 8090 [--latency-ms 50]

It runs with the checkout's virtualenv (``.venv/bin/python -m gitlab_sim``), from any folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gitlab_sim.demo import demo_world, fill_gitlab_url
from gitlab_sim.faults import Faults
from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import World


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gitlab_sim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="write a generated world to a JSON file")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--users", type=int, default=20)
    gen.add_argument("--groups", type=int, default=15)
    gen.add_argument("--projects", type=int, default=50)
    gen.add_argument("-o", "--output", type=Path, required=True)

    serve = commands.add_parser("serve", help="serve a world over GitLab's REST API v4")
    serve.add_argument("--world", type=Path, help="a world JSON file (default: generate one)")
    serve.add_argument("--demo", action="store_true", help="serve the demo world of make up")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--projects", type=int, default=50)
    serve.add_argument("--port", type=int, default=8090)
    serve.add_argument("--latency-ms", type=float, default=0.0)
    serve.add_argument("--admin-mode", action="store_true")

    args = parser.parse_args(argv)
    if args.command == "generate":
        started = time.perf_counter()
        world = generate(args.seed, users=args.users, groups=args.groups, projects=args.projects)
        world.save(args.output)
        print(
            f"wrote {args.output}: {len(world.users)} users, {len(world.groups)} groups, "
            f"{len(world.projects)} projects in {time.perf_counter() - started:.1f}s"
        )
        return 0
    if args.demo:
        world = demo_world()
    elif args.world:
        world = World.load(args.world)
    else:
        world = generate(args.seed, projects=args.projects)
    world.admin_mode = world.admin_mode or args.admin_mode
    server = SimulatorServer(world, port=args.port, faults=Faults(latency_ms=args.latency_ms))
    if args.demo:
        fill_gitlab_url(world)
    print(f"GitLab simulator on {server.url}/api/v4 ({len(world.projects)} projects)", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
