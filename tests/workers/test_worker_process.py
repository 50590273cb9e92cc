"""A task sent by this test process runs in a separate, real Celery worker process, and
`labstac status` reports that worker's heartbeat."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest
from redis import Redis
from support import LABSTAC_BIN, WorkerProcess, make_settings, settings_env, wait_until

from indexer.heartbeat import read_heartbeats
from workers.app import create_celery_app

pytestmark = pytest.mark.services


def test_a_started_worker_reports_at_once(
    celery_worker: WorkerProcess, redis_client: Redis
) -> None:
    wait_until(lambda: bool(read_heartbeats(redis_client)), 10, "the start-up heartbeat")
    assert [beat.worker for beat in read_heartbeats(redis_client)] == [celery_worker.name]


def test_a_task_sent_here_runs_in_the_worker_process(
    celery_worker: WorkerProcess, redis_client: Redis
) -> None:
    wait_until(lambda: bool(read_heartbeats(redis_client)), 10, "the start-up heartbeat")
    sent_at = datetime.now(UTC)
    app = create_celery_app(celery_worker.settings)
    try:
        result = app.send_task("labstac.workers.health.heartbeat")
        wait_until(
            lambda: read_heartbeats(redis_client)[0].at >= sent_at,
            30,
            "the heartbeat task to run in the worker",
        )
    finally:
        app.close()
    assert [beat.worker for beat in read_heartbeats(redis_client)] == [celery_worker.name]
    wait_until(lambda: result.id in celery_worker.log(), 10, "the task's log line")


def test_status_reports_services_and_the_worker(
    celery_worker: WorkerProcess, redis_client: Redis
) -> None:
    app = create_celery_app(celery_worker.settings)
    try:
        app.send_task("labstac.workers.health.heartbeat")
        wait_until(lambda: bool(read_heartbeats(redis_client)), 30, "the heartbeat task to run")
    finally:
        app.close()
    result = subprocess.run(
        [LABSTAC_BIN, "status"],
        env=settings_env(celery_worker.settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "opensearch  up, cluster" in result.stdout
    assert f"queue '{celery_worker.settings.task_queue}' holds 0 task(s)" in result.stdout
    assert f"worker      {celery_worker.name}: last heartbeat" in result.stdout


def test_status_exits_3_when_a_backend_is_down(redis_client: Redis) -> None:
    settings = make_settings(opensearch_url="http://127.0.0.1:9")
    result = subprocess.run(
        [LABSTAC_BIN, "status"],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "opensearch  DOWN: opensearch: not reachable" in result.stdout
