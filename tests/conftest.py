"""Fixtures on the real services that `make services` starts: OpenSearch, Redis, a Celery
worker process, the API under uvicorn. Nothing here is mocked. When a service is not
running, the tests that need it fail with a message saying how to start it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from redis import Redis
from support import (
    OPENSEARCH_URL,
    REDIS_HOST_URL,
    REDIS_TEST_DB,
    START_HINT,
    ApiServer,
    WorkerProcess,
    make_settings,
    stop_process,
)
from support import start_api as start_api_process
from support import start_worker as start_worker_process

import mappings
from gitlab_sim.server import SimulatorServer
from indexer.index.layout import ensure_index
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings

# ------------------------------------------------------------------ OpenSearch


@pytest.fixture(scope="session")
def opensearch_client() -> Iterator[OpenSearch]:
    client = OpenSearch(hosts=[OPENSEARCH_URL], timeout=30)
    try:
        client.cluster.health(wait_for_status="yellow")
    except Exception as error:
        pytest.fail(f"OpenSearch at {OPENSEARCH_URL} is not reachable ({error}); {START_HINT}")
    yield client
    client.close()


@pytest.fixture
def index_name(opensearch_client: OpenSearch) -> Iterator[Callable[[], str]]:
    """Makes uniquely named indices for one test and deletes them after it."""
    made: list[str] = []

    def make() -> str:
        name = f"labstac-test-{uuid.uuid4().hex[:12]}"
        made.append(name)
        return name

    yield make
    for name in made:
        opensearch_client.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture
def items_index(opensearch_client: OpenSearch, index_name: Callable[[], str]) -> str:
    """A fresh index with labstac's item mapping, deleted after the test."""
    name = index_name()
    opensearch_client.indices.create(index=name, body=mappings.load("items"))
    return name


# ----------------------------------------------------------------------- Redis


@pytest.fixture
def redis_client() -> Iterator[Redis]:
    """A client on the tests' own Redis database, emptied before and after each test."""
    client = Redis.from_url(f"{REDIS_HOST_URL}/{REDIS_TEST_DB}", decode_responses=True)
    try:
        client.ping()
    except Exception as error:
        pytest.fail(f"Redis at {REDIS_HOST_URL} is not reachable ({error}); {START_HINT}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


# ------------------------------------------------------------------ the index


@pytest.fixture
def make_runtime(
    opensearch_client: OpenSearch, redis_client: Redis
) -> Iterator[Callable[..., IndexRuntime]]:
    """Index runtimes on their own index prefix, reading a simulated GitLab with its admin's
    token; their indices and templates go after the test."""
    made: list[IndexRuntime] = []

    def make(sim: SimulatorServer, token_name: str = "main", **overrides: object) -> IndexRuntime:  # noqa: S107
        admin = sim.world.token_named(1, token_name).token
        prefix = f"t{uuid.uuid4().hex[:10]}"
        settings = make_settings(
            gitlab_url=sim.url, gitlab_token=admin, index_prefix=prefix, **overrides
        )
        runtime = IndexRuntime(settings)
        ensure_index(runtime.engine, runtime.layout)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()
        prefix = runtime.settings.index_prefix
        opensearch_client.indices.delete(index=f"{prefix}-items-v*", ignore_unavailable=True)
        opensearch_client.indices.delete_index_template(name=f"{prefix}-items", ignore=[404])


# ---------------------------------------------------------------------- Celery


@pytest.fixture
def start_worker(
    redis_client: Redis, tmp_path: Path
) -> Iterator[Callable[[Settings], WorkerProcess]]:
    """Starts real `labstac worker` processes with the given settings; stops them after."""
    started: list[WorkerProcess] = []

    def start(settings: Settings) -> WorkerProcess:
        worker = start_worker_process(settings, tmp_path)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        stop_process(worker.process)


@pytest.fixture
def celery_worker(start_worker: Callable[[Settings], WorkerProcess]) -> WorkerProcess:
    """A real `labstac worker` process on its own queue, stopped after the test."""
    return start_worker(make_settings())


# ------------------------------------------------------------------------- API


@pytest.fixture
def start_api(tmp_path: Path) -> Iterator[Callable[..., ApiServer]]:
    """Starts `labstac serve` (uvicorn) with the given settings; stops it after the test."""
    started: list[ApiServer] = []

    def start(settings: Settings) -> ApiServer:
        server = start_api_process(settings, tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_process(server.process)
