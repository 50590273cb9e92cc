"""A local three-node OpenSearch cluster, started by scripts/services.sh beside the single
node the rest of the suite uses, with what the cluster tests do to it: find the elected
cluster manager and the nodes holding shards, SIGKILL a node, bring it back."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from opensearchpy import OpenSearch

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "scripts" / "services.sh"
NODES = 3


@dataclass
class EngineCluster:
    http_port: int
    transport_port: int
    heap: str = "384m"
    started_here: bool = field(default=False, init=False)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.http_port + n}" for n in range(NODES)]

    def url_of(self, node: int) -> str:
        return self.urls[node - 1]

    def _services(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(
            os.environ, OPENSEARCH_NODES=str(NODES), OPENSEARCH_PORT=str(self.http_port),
            OPENSEARCH_TRANSPORT_PORT=str(self.transport_port), OPENSEARCH_HEAP=self.heap,
        )  # fmt: skip
        done = subprocess.run([str(SERVICES), *args], env=env, capture_output=True, text=True,
                              timeout=600)  # fmt: skip
        if check and done.returncode != 0:
            raise RuntimeError(f"services.sh {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done

    def up(self) -> float:
        """Start whichever nodes are not running; seconds until all three formed the
        cluster."""
        began = time.monotonic()
        if self._services("running", "opensearch", check=False).returncode != 0:
            self.started_here = True
        self._services("up", "opensearch")
        return time.monotonic() - began

    def down(self) -> None:
        self._services("down", "opensearch")

    def client(self) -> OpenSearch:
        return OpenSearch(hosts=self.urls, timeout=30, max_retries=NODES, retry_on_timeout=True)

    def pid(self, node: int) -> int | None:
        done = self._services("node-pid", str(node), check=False)
        return int(done.stdout) if done.returncode == 0 else None

    def kill(self, node: int) -> None:
        """SIGKILL, as a machine losing power would; returns once the process is gone."""
        pid = self.pid(node)
        assert pid is not None, f"node {node} is not running"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        raise AssertionError(f"node {node} (pid {pid}) still there 30 s after SIGKILL")

    def manager(self, client: OpenSearch) -> int:
        """The node number (1..3) of the elected cluster manager."""
        name = client.cat.cluster_manager(format="json")[0]["node"]
        return int(name.rsplit("-", 1)[1])

    def primaries_on(self, client: OpenSearch, index: str) -> dict[int, int]:
        """How many primary shards of ``index`` each node holds."""
        counts = dict.fromkeys(range(1, NODES + 1), 0)
        for shard in client.cat.shards(index=index, format="json"):
            if shard["prirep"] == "p" and shard.get("node"):
                counts[int(shard["node"].rsplit("-", 1)[1])] += 1
        return counts

    def wait_green(self, client: OpenSearch, seconds: float = 180) -> None:
        health = client.cluster.health(
            wait_for_status="green", wait_for_nodes=NODES, timeout=f"{int(seconds)}s",
            request_timeout=seconds + 10,
        )  # fmt: skip
        assert health["status"] == "green" and not health["timed_out"], health
