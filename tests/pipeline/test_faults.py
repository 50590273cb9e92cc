"""Fault tests on real processes: a worker killed mid-task, OpenSearch stopped during a
burst of events, Redis stopped while GitLab keeps sending. Nothing is lost in any of them.

These stop and restart the shared services (scripts/services.sh), so they run last in
their folder and leave the services up."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from pipeline_stack import Stack
from support import wait_until

pytestmark = pytest.mark.services

SERVICES = Path(__file__).resolve().parents[2] / "scripts" / "services.sh"


def services(action: str, service: str) -> None:
    subprocess.run([str(SERVICES), action, service], check=True, capture_output=True, timeout=300)


def group_of(stack: Stack) -> tuple[int, str]:
    order = {"public": 0, "internal": 1, "private": 2}
    group = min(stack.sim.world.groups, key=lambda g: (order[g.visibility], g.id))
    return group.id, group.visibility


def test_a_worker_killed_mid_task_loses_nothing(stack: Stack) -> None:
    stack.system_hook()
    group, visibility = group_of(stack)
    stack.sim.faults.update({"latency_ms": 4000})  # every GitLab read now takes 4 s
    stack.sim.changes.create_project(
        "slow", "Slow", group_id=group, visibility=visibility, topics=["sharinghub:dataset"]
    )
    stack.sim.delivery.flush()
    wait_until(lambda: "index_project" in stack.worker.log(), 20, "the task to start")
    os.killpg(os.getpgid(stack.worker.process.pid), signal.SIGKILL)  # the machine died
    stack.worker.process.wait(10)
    stack.sim.faults.update({"latency_ms": 0})
    stack.start_worker(stack.settings)  # the unacknowledged task returns after 5 s
    stack.settle(timeout=60)


def test_opensearch_stopped_during_a_burst_loses_nothing(stack: Stack) -> None:
    stack.system_hook()
    group, visibility = group_of(stack)
    services("down", "opensearch")
    try:
        for n in range(5):
            stack.sim.changes.create_project(
                f"burst-{n}",
                f"Burst {n}",
                group_id=group,
                visibility=visibility,
                topics=["sharinghub:tools"],
            )
        stack.sim.delivery.flush()
        assert {r.response_status for r in stack.sim.delivery.records} == {202}
        wait_until(lambda: "UpstreamUnavailable" in stack.worker.log(), 30, "a failed write")
    finally:
        services("up", "opensearch")
    stack.settle(timeout=180)  # the tasks' retries, with backoff, land once it is back


def test_redis_stopped_hooks_still_answered_and_applied_after(stack: Stack) -> None:
    stack.system_hook()
    group, visibility = group_of(stack)
    services("down", "redis")
    try:
        for n in range(3):
            stack.sim.changes.create_project(
                f"spooled-{n}",
                f"Spooled {n}",
                group_id=group,
                visibility=visibility,
                topics=["sharinghub:tools"],
            )
        stack.sim.delivery.flush()
        assert {r.response_status for r in stack.sim.delivery.records} == {202}
    finally:
        services("up", "redis")
    stack.settle(timeout=120)
