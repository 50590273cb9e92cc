"""Helpers shared by the tests: where the real services are, settings for a test, and
starting and stopping labstac processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from indexer.settings import Settings

OPENSEARCH_URL = os.environ.get("LABSTAC_TEST_OPENSEARCH_URL", "http://127.0.0.1:9200")
REDIS_HOST_URL = os.environ.get("LABSTAC_TEST_REDIS_URL", "redis://127.0.0.1:6379")
# Tests use a Redis database of their own, so a dev stack on database 0 is left alone.
REDIS_TEST_DB = int(os.environ.get("LABSTAC_TEST_REDIS_DB", "9"))
GITLAB_URL = "http://127.0.0.1:9"  # no GitLab is needed by these tests; the port is discard
LABSTAC_BIN = str(Path(sys.executable).parent / "labstac")
START_HINT = "start the services with `make services` (or run the suite with `make test`)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "gitlab_url": GITLAB_URL,
        "opensearch_url": OPENSEARCH_URL,
        "redis_url": f"{REDIS_HOST_URL}/{REDIS_TEST_DB}",
        "task_queue": f"test-{uuid.uuid4().hex[:12]}",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a labstac subprocess needs to rebuild these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTAC_")}
    env.update(
        LABSTAC_GITLAB_URL=str(settings.gitlab_url),
        LABSTAC_OPENSEARCH_URL=str(settings.opensearch_url),
        LABSTAC_REDIS_URL=settings.redis_url_str,
        LABSTAC_TASK_QUEUE=settings.task_queue,
        LABSTAC_HOST=settings.host,
        LABSTAC_PORT=str(settings.port),
        LABSTAC_LOG_LEVEL="INFO",
        LABSTAC_LOG_FORMAT="json",
        LABSTAC_INDEX_PREFIX=settings.index_prefix,
        LABSTAC_TASK_MAX_RETRIES=str(settings.task_max_retries),
        LABSTAC_TASK_VISIBILITY_SECONDS=str(settings.task_visibility_seconds),
    )
    if settings.gitlab_token is not None:
        env["LABSTAC_GITLAB_TOKEN"] = settings.gitlab_token.get_secret_value()
    if settings.webhook_secrets:
        env["LABSTAC_WEBHOOK_SECRETS"] = ",".join(
            secret.get_secret_value() for secret in settings.webhook_secrets
        )
    if "state_dir" in settings.model_fields_set:
        env["LABSTAC_STATE_DIR"] = str(settings.state_dir)
    return env


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass
class WorkerProcess:
    settings: Settings
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class ApiServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    settings: Settings

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def queued_tasks(redis: object, queue: str) -> list[tuple[str, list[object]]]:
    """The (task name, args) of the Celery messages waiting in a Redis queue, oldest first."""
    import base64
    import json

    messages = redis.lrange(queue, 0, -1)  # type: ignore[attr-defined]
    result = []
    for raw in reversed(messages):  # kombu LPUSHes: the oldest is last
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        result.append((message["headers"]["task"], args))
    return result
