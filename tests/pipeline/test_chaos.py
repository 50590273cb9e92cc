"""A seeded chaos run of the whole pipeline: a few hundred changes in the simulated GitLab,
their hooks shuffled and some re-sent, while a worker host is SIGKILLed, Redis and
OpenSearch are cut for 15 s each (behind proxies, for the API and the workers alike) and
a reindex runs. At the end:

- every delivery the API answered was answered 202 (GitLab disables hooks that fail);
- the index equals a fresh rebuild from GitLab, except for projects whose task is a dead
  letter (none is expected);
- no worker exited on its own.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from index_checks import comparable_documents, fresh_documents, index_differences
from opensearchpy import OpenSearch
from redis import Redis
from support import (
    LABSTAC_BIN,
    OPENSEARCH_URL,
    REDIS_HOST_URL,
    REDIS_TEST_DB,
    ApiServer,
    WorkerProcess,
    settings_env,
    wait_until,
)
from tcp_proxy import TcpProxy, proxy_to
from world_changes import Changer

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings

pytestmark = pytest.mark.services
SEED = 20261129
CHANGES = 300
SECRET = "chaos-secret-0123456789"


@pytest.fixture
def proxies() -> Iterator[tuple[TcpProxy, TcpProxy]]:
    with proxy_to(REDIS_HOST_URL, 6379) as redis, proxy_to(OPENSEARCH_URL, 9200) as engine:
        yield redis, engine


def cut(proxy: TcpProxy, seconds: float) -> threading.Thread:
    def outage() -> None:
        proxy.stop()
        time.sleep(seconds)
        proxy.start()

    thread = threading.Thread(target=outage)
    thread.start()
    return thread


def test_the_index_survives_a_chaos_run(
    proxies: tuple[TcpProxy, TcpProxy],
    make_runtime: Callable[..., IndexRuntime],
    start_api: Callable[..., ApiServer],
    start_worker: Callable[[Settings], WorkerProcess],
    opensearch_client: OpenSearch,
    redis_client: Redis,
    tmp_path: Path,
) -> None:
    redis_proxy, engine_proxy = proxies
    rng = random.Random(SEED)
    world = generate(seed=SEED % 1000, users=30, groups=15, projects=60)
    with SimulatorServer(world) as sim:
        runtime = make_runtime(sim, webhook_secrets=SECRET, state_dir=tmp_path / "state",
                               broker_retry_seconds=180)  # fmt: skip
        runtime.rebuild().run()
        behind = runtime.settings.model_copy(update={
            "redis_url": f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_TEST_DB}",
            "opensearch_url": [f"http://127.0.0.1:{engine_proxy.port}"],
        })  # fmt: skip
        api = start_api(behind)
        hosts = [start_worker(behind), start_worker(behind)]
        sim.hooks.add_system_hook(f"{api.url}/hooks/gitlab", token=SECRET, push_events=True,
                                  tag_push_events=True, repository_update_events=True)  # fmt: skip
        sim.delivery.settings.out_of_order = True
        sim.delivery.settings.reorder_window = 8
        changer = Changer(sim, rng)
        outages: list[threading.Thread] = []
        reindex: subprocess.Popen[bytes] | None = None
        for n in range(CHANGES):
            changer.one(n)
            if n % 15 == 7 and sim.delivery.records:  # GitLab's "Resend Request"
                sent = [r for r in sim.delivery.records if r.state == "sent"]
                if sent:
                    record = rng.choice(sent)
                    sim.delivery.resend(record.id, sim.hooks.get(record.hook_id), sim.url)
            if n == 40:  # a worker host dies, and comes back a little later
                os.killpg(os.getpgid(hosts[0].process.pid), signal.SIGKILL)
                hosts[0].process.wait(10)
            if n == 70:
                hosts[0] = start_worker(behind)
            if n == 90:
                outages.append(cut(redis_proxy, 15))
            if n == 150:
                outages[-1].join()
                outages.append(cut(engine_proxy, 15))
            if n == 230:
                outages[-1].join()
                reindex = subprocess.Popen(
                    [LABSTAC_BIN, "reindex", "--concurrency", "4"], env=settings_env(behind),
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            time.sleep(0.15)
        for outage in outages:
            outage.join()
        sim.delivery.flush(timeout=120)
        assert reindex is not None and reindex.wait(300) in (0, 1)  # done, or failed cleanly

        statuses = {r.response_status for r in sim.delivery.records if r.state != "dropped"}
        assert statuses == {202}, statuses
        # The chaos happened: hooks spooled while Redis was away, re-sent ones recognised,
        # and tasks retried while the engine was away.
        answers = " ".join(r.response_body for r in sim.delivery.records)
        assert '"spooled"' in answers and '"duplicate"' in answers
        assert any("Retry in" in host.log() for host in hosts)

        def settled() -> bool:
            return not index_differences(opensearch_client, runtime, sim.world)

        wait_until(settled, 180, "the index to equal GitLab")
        letters = redis_client.lrange("labstac:dead-letters", 0, -1)
        assert not letters, letters[:5]
        assert comparable_documents(runtime, opensearch_client) == fresh_documents(
            runtime, opensearch_client
        )
        assert all(host.process.poll() is None for host in hosts), [h.log()[-2000:] for h in hosts]
