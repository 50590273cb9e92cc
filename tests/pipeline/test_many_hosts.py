"""Workers on several hosts (issue #21): three `labstac worker` processes, each with its own
`--name` (labstac@host-a, -b, -c), state directory, HOME and process group, four threads
each, all on one Redis, one engine and one queue, fed by the simulated GitLab's hooks
through the real API. What holds across them:

- coalescing: a burst of pushes to a few projects costs a few runs of each, never two runs
  of one project at once, and the index ends equal to a fresh rebuild;
- leases: a reconcile asked six times at once runs once; two `labstac reindex` started at
  once build and swap one new version, the other refused;
- dead letters: a task failing on every host becomes one dead letter after its retries,
  and `labstac retry-dead` replays it to whichever host;
- a host SIGKILLed during a burst loses nothing: the others hand its tasks back and finish,
  and the host, restarted under the same name, takes tasks again.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hosts import Host, start_hosts
from index_checks import comparable_documents, fresh_documents, index_differences
from opensearchpy import OpenSearch
from pipeline_stack import SECRET, catalogued
from redis import Redis
from support import LABSTAC_BIN, ApiServer, settings_env, wait_until

from gitlab_sim.api import Stats
from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import World
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings
from indexer.task_records import DEAD_LETTERS, last_reconcile
from workers.app import create_celery_app
from workers.events import INDEX_PROJECT
from workers.recovery import HELD

pytestmark = pytest.mark.services
RECONCILE = "labstac.workers.index.reconcile"
HANDED_BACK = "tasks of dead workers, or whose ending was lost, handed back"


@dataclass
class ManyHosts:
    sim: SimulatorServer
    settings: Settings
    runtime: IndexRuntime
    api: ApiServer
    hosts: list[Host]
    client: OpenSearch
    redis: Redis
    base: Path

    @property
    def world(self) -> World:
        return self.sim.world

    def system_hook(self, repository_update: bool = True) -> None:
        self.sim.hooks.add_system_hook(
            f"{self.api.url}/hooks/gitlab", token=SECRET, push_events=True,
            tag_push_events=True, repository_update_events=repository_update,
        )  # fmt: skip

    def push_title(self, project_id: int, title: str) -> None:
        self.sim.changes.push_files(project_id, 1, {"README.md": f"---\ntitle: {title}\n---\n"})

    def settle(self, timeout: float) -> None:
        """Every delivery sent, the index equal to GitLab, and nothing left queued or held."""
        self.sim.delivery.flush(timeout=120)
        problems: list[str] = []

        def equal() -> bool:
            problems[:] = index_differences(self.client, self.runtime, self.world)
            return not problems

        try:
            wait_until(equal, timeout, "the index to equal GitLab")
        except AssertionError:
            raise AssertionError("index differs:\n" + "\n".join(problems[:15])) from None
        wait_until(self.quiet, 60, "no task queued or unacknowledged")

    def quiet(self) -> bool:
        return not self.redis.llen(self.settings.task_queue) and not self.redis.hlen("unacked")

    def records(self, message: str) -> list[tuple[str, dict[str, Any]]]:
        return [(host.name, record) for host in self.hosts for record in host.records(message)]

    def reindex_process(self, host: str) -> subprocess.Popen[str]:
        """`labstac reindex` as run on another host: its own HOME and state directory."""
        home = self.base / f"reindex-{host}"
        (home / "state").mkdir(parents=True, exist_ok=True)
        env = settings_env(self.settings)
        env.update(HOME=str(home), LABSTAC_STATE_DIR=str(home / "state"))
        return subprocess.Popen(
            [LABSTAC_BIN, "reindex", "--concurrency", "4"], env=env, cwd=home,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def equals_a_fresh_rebuild(self) -> None:
        self.sim.faults.update({"latency_ms": 0, "server_error_share": 0.0})
        assert comparable_documents(self.runtime, self.client) == fresh_documents(
            self.runtime, self.client
        )


@pytest.fixture
def make_stack(
    start_api: Callable[..., ApiServer],
    make_runtime: Callable[..., IndexRuntime],
    opensearch_client: OpenSearch,
    redis_client: Redis,
    tmp_path: Path,
) -> Iterator[Callable[..., ManyHosts]]:
    made: list[ManyHosts] = []

    def make(hook: bool = True, **overrides: Any) -> ManyHosts:
        sim = SimulatorServer(generate(seed=23, users=20, groups=12, projects=40)).start()
        runtime = make_runtime(
            sim, webhook_secrets=SECRET, state_dir=tmp_path / "api-state", **overrides
        )
        runtime.rebuild().run()
        api = start_api(runtime.settings)
        hosts: list[Host] = []
        stack = ManyHosts(sim, runtime.settings, runtime, api, hosts, opensearch_client,
                          redis_client, tmp_path)  # fmt: skip
        made.append(stack)
        hosts += start_hosts(runtime.settings, tmp_path, "abc", concurrency=4)
        if hook:
            stack.system_hook()
        return stack

    yield make
    for stack in made:
        for host in stack.hosts:
            host.stop()
        stack.sim.stop()


def epoch(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(record["ts"]).timestamp()


# ------------------------------------------------------------------------ coalescing

PUSHES = 50  # to each of three projects


def test_a_burst_for_a_few_projects_is_coalesced_across_hosts(
    make_stack: Callable[..., ManyHosts],
) -> None:
    stack = make_stack()
    chosen = catalogued(stack.world)[:3]
    stack.sim.faults.update({"latency_ms": 150})  # a run reads GitLab for a second or so
    stack.sim.app.stats = Stats()
    began = time.monotonic()
    for n in range(PUSHES):
        for project_id in chosen:
            stack.push_title(project_id, f"burst {project_id} {n}")
    stack.sim.delivery.flush(timeout=120)
    burst = time.monotonic() - began
    stack.settle(timeout=90)  # each project's title is its last push's

    hooks = stack.sim.delivery.records
    assert len(hooks) == 2 * PUSHES * len(chosen)  # a push and a repository update each
    assert {r.response_status for r in hooks} == {202}
    runs = [(host, r) for host, r in stack.records("project indexed")
            if r["project_id"] in chosen]  # fmt: skip
    reads = stack.sim.app.stats.calls["GET /projects/:project"]
    print(f"\n{len(hooks)} hooks in {burst:.1f} s; {len(runs)} runs; {reads} project reads")
    assert reads == len(runs)  # nothing else read these projects
    for project_id in chosen:
        mine = [host for host, r in runs if r["project_id"] == project_id]
        print(f"project {project_id}: {len(mine)} runs on {sorted(set(mine))}")
        # Coalesced: a handful of runs for 50 pushes (not one per push, or per hook).
        assert 1 <= len(mine) <= PUSHES // 4, f"{len(mine)} runs of {project_id}"
    for project_id in chosen:
        # Never two runs of one project at once, on one host or two.
        spans = sorted(
            (r["started"], epoch(r), h) for h, r in runs if r["project_id"] == project_id
        )
        for (_, ended, host), (started, _, other) in pairwise(spans):
            assert started >= ended - 0.001, f"runs of {project_id} overlap on {host}, {other}"
    assert len({host for host, _ in runs}) >= 2, "the runs did not spread over the hosts"
    assert not stack.redis.llen(DEAD_LETTERS)
    stack.equals_a_fresh_rebuild()


# ---------------------------------------------------------------------------- leases


def test_a_reconcile_and_a_reindex_asked_on_several_hosts_run_once(
    make_stack: Callable[..., ManyHosts],
) -> None:
    stack = make_stack(hook=False)
    unannounced = catalogued(stack.world)[:5]
    for project_id in unannounced:  # no hook yet: only a reconcile finds these
        stack.push_title(project_id, f"unannounced {project_id}")
    assert index_differences(stack.client, stack.runtime, stack.world)

    # Six reconciles at once, as beat on a slow host and operators might ask for them.
    stack.sim.faults.update({"latency_ms": 500})  # planning takes a few seconds now
    app = create_celery_app(stack.settings)
    try:
        for _ in range(6):
            app.send_task(RECONCILE, queue=stack.settings.task_queue)
    finally:
        app.close()  # type: ignore[attr-defined]

    def answered() -> list[tuple[str, dict[str, Any]]]:
        return stack.records("reconcile planned") + stack.records("reconcile already running")

    wait_until(lambda: len(answered()) >= 6, 90, "the six reconciles to run or step aside")
    planned = stack.records("reconcile planned")
    assert len(planned) == 1, planned
    assert len(stack.records("reconcile already running")) == 5
    assert len({host for host, _ in answered()}) >= 2, "all six ran on one host"
    record = last_reconcile(stack.redis, "full")
    assert record is not None and record["stale"] == len(unannounced), record
    assert record["enqueued"] == len(unannounced)
    stack.sim.faults.update({"latency_ms": 0})
    stack.settle(timeout=60)

    # Two reindexes started at once on two hosts, while hooks keep coming.
    layout = stack.runtime.layout
    before = stack.client.indices.get_alias(name=layout.read_alias)
    stack.system_hook()
    stack.sim.faults.update({"latency_ms": 100})  # the rebuild takes several seconds
    reindexes = [stack.reindex_process("a"), stack.reindex_process("b")]
    building = layout.building_alias
    wait_until(lambda: stack.client.indices.exists_alias(name=building), 60, "a reindex")
    during = catalogued(stack.world)[5:9]
    for project_id in during:
        stack.push_title(project_id, f"during the reindex {project_id}")
    outputs = [process.communicate(timeout=300) for process in reindexes]
    codes = sorted(process.returncode for process in reindexes)
    assert codes == [0, 1], outputs
    loser = next(err for (_, err), p in zip(outputs, reindexes, strict=True) if p.returncode)
    winner = next(out for (out, _), p in zip(outputs, reindexes, strict=True) if not p.returncode)
    assert "another reindex is running" in loser
    live = list(stack.client.indices.get_alias(name=layout.read_alias))
    assert len(live) == 1 and f"index      {live[0]} (live)" in winner, winner
    # Swapped once: the one version after the old one, and nothing else left.
    (old,) = before
    assert layout.version_of(live[0]) == layout.version_of(old) + 1
    assert set(stack.client.indices.get(index=layout.pattern)) == set(live)
    assert not stack.client.indices.exists_alias(name=building)
    stack.sim.faults.update({"latency_ms": 0})
    stack.settle(timeout=60)
    stack.equals_a_fresh_rebuild()


# ---------------------------------------------------------------------- dead letters

RETRIES = 2


def test_a_task_failing_on_every_host_is_one_dead_letter_replayed_anywhere(
    make_stack: Callable[..., ManyHosts],
) -> None:
    stack = make_stack(hook=False, task_max_retries=RETRIES)
    failing = catalogued(stack.world)[:6]
    for project_id in failing:  # changed in GitLab, the index still on the old state
        stack.push_title(project_id, f"failing {project_id}")
    stack.sim.faults.update({"server_error_share": 1.0})  # GitLab answers 5xx to everything
    stack.sim.app.stats = Stats()
    app = create_celery_app(stack.settings)
    try:
        for project_id in failing:
            app.send_task(INDEX_PROJECT, args=(project_id,), queue=stack.settings.task_queue)
    finally:
        app.close()  # type: ignore[attr-defined]
    wait_until(lambda: stack.redis.llen(DEAD_LETTERS) >= len(failing), 90, "the dead letters")
    wait_until(stack.quiet, 60, "no task left")
    letters = [json.loads(raw) for raw in stack.redis.lrange(DEAD_LETTERS, 0, -1)]
    # One letter per task, whichever hosts ran its attempts, each after its last retry.
    assert sorted(letter["args"][0] for letter in letters) == sorted(failing), letters
    assert {letter["retries"] for letter in letters} == {RETRIES}
    assert stack.sim.app.stats.faults["server_error"] == len(failing) * (RETRIES + 1)
    # The attempts of these chains ran on more than one host.
    attempts = {host.name: sum(1 for line in host.log().splitlines()
                               if " retry: Retry in " in line or " raised unexpected" in line)
                for host in stack.hosts}  # fmt: skip
    assert sum(attempts.values()) == len(failing) * (RETRIES + 1), attempts
    assert sum(1 for n in attempts.values() if n) >= 2, attempts
    print(f"\nattempts by host: {attempts}")
    report = subprocess.run([LABSTAC_BIN, "status"], env=settings_env(stack.settings),
                            capture_output=True, text=True, timeout=60).stdout  # fmt: skip
    assert f"{len(failing)} dead letter(s)" in report, report

    stack.sim.faults.update({"server_error_share": 0.0})
    runs_before = len(stack.records("project indexed"))
    replay = subprocess.run([LABSTAC_BIN, "retry-dead"], env=settings_env(stack.settings),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    assert f"replayed {len(failing)} dead letter(s); 0 left" in replay.stdout
    stack.settle(timeout=60)
    replayed = stack.records("project indexed")[runs_before:]
    assert sorted(r["project_id"] for _, r in replayed) == sorted(failing)
    print(f"\nreplayed on {sorted({host for host, _ in replayed})}")
    assert not stack.redis.llen(DEAD_LETTERS)
    stack.equals_a_fresh_rebuild()


# ------------------------------------------------------------------ a host that dies


def test_a_host_killed_during_a_burst_loses_nothing_and_rejoins(
    make_stack: Callable[..., ManyHosts],
) -> None:
    stack = make_stack(hook=False)
    stack.system_hook(repository_update=False)  # one hook, so one task, per push
    a, b, c = stack.hosts
    projects = catalogued(stack.world)[:24]

    def held_by_a() -> list[str]:
        held = stack.redis.hgetall(HELD)
        tags = [tag for tag, value in held.items() if value.startswith(f"{a.name} ")]
        return [tag for tag, raw in zip(tags, stack.redis.hmget("unacked", tags), strict=True)
                if raw] if tags else []  # fmt: skip

    def kill_a_holding_tasks() -> int:
        """SIGKILL host-a's process group as soon as it holds tasks, while hooks still
        arrive and tasks wait in the queue: a message it was taking at that instant (off
        the queue, not yet unacknowledged) comes back from the ledger of sent tasks."""
        wait_until(lambda: bool(held_by_a()), 60, "host-a to hold tasks")
        holding = len(held_by_a())
        a.kill()
        return holding

    stack.sim.faults.update({"latency_ms": 400})  # a run takes about three seconds
    for project_id in projects:  # 24 runs, for the three hosts' 12 threads
        stack.push_title(project_id, f"before the crash {project_id}")
    lost = kill_a_holding_tasks()  # the host dies with its tasks
    killed = time.time()
    for project_id in projects:  # and GitLab goes on
        stack.push_title(project_id, f"after the crash {project_id}")
    stack.sim.faults.update({"latency_ms": 50})
    stack.settle(timeout=120)
    back = [(host, r) for host, r in stack.records(HANDED_BACK) if a.name in r["workers"]]
    assert back, "nobody handed host-a's tasks back"
    assert {host for host, _ in back} <= {b.name, c.name}
    returned = min(epoch(r) for _, r in back) - killed
    print(f"\nhost-a held {lost} task(s); handed back {returned:.1f} s after the kill")
    assert returned < 45
    assert {r.response_status for r in stack.sim.delivery.records} == {202}
    assert not stack.redis.llen(DEAD_LETTERS)
    assert b.running() and c.running()
    stack.equals_a_fresh_rebuild()

    # The host comes back under the same name and state directory, and takes its share:
    # sixteen slow runs at once are more than the other two hosts' eight threads hold.
    a.start()
    stack.sim.faults.update({"latency_ms": 400})
    for project_id in projects[:16]:
        stack.push_title(project_id, f"after the restart {project_id}")
    stack.settle(timeout=90)
    rejoined = [r for r in a.records("project indexed") if epoch(r) > killed]
    assert rejoined, "host-a took no task after its restart"
    print(f"host-a ran {len(rejoined)} of the 16 after its restart")

    # Killed again, and restarted at once under the same name, as a supervisor does: alive
    # again, its old tasks are nobody's to hand back but its own.
    for project_id in projects[:16]:
        stack.push_title(project_id, f"before the second crash {project_id}")
    lost = kill_a_holding_tasks()
    again = time.time()
    a.start()
    stack.sim.faults.update({"latency_ms": 50})
    stack.settle(timeout=120)
    back = [r for _, r in stack.records(HANDED_BACK) if epoch(r) > again and a.name in r["workers"]]
    assert back, "host-a's tasks were not handed back after its quick restart"
    returned = min(epoch(r) for r in back) - again
    print(f"after a quick restart, {lost} task(s) handed back {returned:.1f} s later")
    assert {r.response_status for r in stack.sim.delivery.records} == {202}
    assert not stack.redis.llen(DEAD_LETTERS)
    stack.equals_a_fresh_rebuild()
