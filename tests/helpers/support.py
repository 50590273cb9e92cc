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
from typing import TYPE_CHECKING

from pydantic import SecretStr
from redis.exceptions import ConnectionError as RedisConnectionError

from indexer.settings import Settings

if TYPE_CHECKING:
    from indexer.index.runtime import IndexRuntime

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
    """The environment a labstac subprocess needs to rebuild these settings: the ones the
    processes of a test must agree on, and every one the test set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABSTAC_")}
    always = {
        "gitlab_url", "opensearch_url", "redis_url", "task_queue", "host", "port",
        "index_prefix", "task_max_retries", "task_visibility_seconds",
    }  # fmt: skip
    for name in always | settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        env[f"LABSTAC_{name.upper()}"] = _env_value(value)
    env.update(LABSTAC_LOG_LEVEL="INFO", LABSTAC_LOG_FORMAT=settings.log_format)
    return env


def _env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list):
        return ",".join(_env_value(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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


def start_api(settings: Settings, log_dir: Path) -> ApiServer:
    """Start `labstac serve` on a free port with these settings; returns once it answers."""
    import httpx

    settings = settings.model_copy(update={"port": free_port()})
    log_path = log_dir / f"api-{settings.port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [LABSTAC_BIN, "serve"], env=settings_env(settings), stdout=log_file,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = ApiServer(f"http://127.0.0.1:{settings.port}", process, log_path, settings)

    def answers() -> bool:
        assert process.poll() is None, f"API exited early:\n{server.log()}"
        try:
            return httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, 30, "the API to answer /healthz")
    return server


def start_worker(settings: Settings, log_dir: Path, prefix: str = "test") -> WorkerProcess:
    """Start `labstac worker` (one pool process) in a process group of its own, so a fault
    test may kill the whole group; returns once it answers a ping."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    log_path = log_dir / f"worker-{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [LABSTAC_BIN, "worker", "--concurrency", "1", "--name", name],
            env=settings_env(settings), stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    worker = WorkerProcess(settings, name, process, log_path)
    wait_for_worker(settings, name, process, worker.log)
    return worker


def wait_for_worker(
    settings: Settings,
    name: str,
    process: subprocess.Popen[bytes],
    log: Callable[[], str],
    timeout: float = 60,
) -> None:
    """Return once the worker node ``name`` answers a ping; fail with its log if its
    process exits first."""
    from workers.app import create_celery_app

    app = create_celery_app(settings)

    def answers() -> bool:
        assert process.poll() is None, f"worker {name} exited early:\n{log()[-3000:]}"
        try:
            return bool(app.control.ping(destination=[name], timeout=0.5))
        except RedisConnectionError:
            # A pooled connection Redis closed (a fault test restarted it): ask again.
            return False

    try:
        wait_until(answers, timeout, f"Celery worker {name}")
    finally:
        app.close()  # type: ignore[attr-defined]


def indexed_runtime(settings: Settings) -> IndexRuntime:
    """An index runtime on these settings, with a full build of the index behind it."""
    from indexer.index.layout import ensure_index
    from indexer.index.runtime import IndexRuntime

    runtime = IndexRuntime(settings)
    ensure_index(runtime.engine, runtime.layout)
    summary = runtime.rebuild().run()
    assert summary.swapped and not summary.failed, summary
    return runtime


def drop_indices(prefix: str) -> None:
    """Every index and template a test made under this index prefix."""
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[OPENSEARCH_URL], timeout=30)
    try:
        client.indices.delete(index=f"{prefix}-items-v*", ignore_unavailable=True)
        client.indices.delete_index_template(name=f"{prefix}-items", ignore=[404])
    finally:
        client.close()
