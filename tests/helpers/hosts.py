"""Worker processes standing for separate hosts: each `labstac worker` has its own `--name`
(``labstac@host-a``), its own state directory and HOME, a pool of several threads, and a
process group of its own (killing the group is the host dying), all on the same Redis,
engine and queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import LABSTAC_BIN, settings_env, stop_process, wait_for_worker

from indexer.settings import Settings


@dataclass
class Host:
    name: str  # the worker's node name, labstac@host-x
    settings: Settings
    home: Path  # HOME and LABSTAC_STATE_DIR live under it
    concurrency: int
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    starts: int = 0

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    def start(self) -> Host:
        """Start (or restart, same name and state directory) the host's worker; returns once
        it answers a ping."""
        return self.launch().wait_ready()

    def launch(self) -> Host:
        self.home.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(exist_ok=True)
        self.starts += 1
        self.log_path = self.home / f"worker-{self.starts}.log"
        env = settings_env(self.settings)
        env.update(HOME=str(self.home), LABSTAC_STATE_DIR=str(self.state_dir))
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                [LABSTAC_BIN, "worker", "--concurrency", str(self.concurrency),
                 "--name", self.name],
                env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=self.home,
                start_new_session=True,
            )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 60) -> Host:
        assert self.process is not None
        wait_for_worker(self.settings, self.name, self.process, self.log, timeout)
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """The host dies: SIGKILL to its whole process group (worker and pool)."""
        assert self.process is not None
        os.killpg(os.getpgid(self.process.pid), signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def log(self) -> str:
        """Everything this host logged, over all its starts."""
        return "".join(
            path.read_text(errors="replace")
            for n in range(1, self.starts + 1)
            if (path := self.home / f"worker-{n}.log").exists()
        )

    def records(self, message: str) -> list[dict[str, Any]]:
        """The JSON log records of this host whose message is ``message``."""
        found = []
        for line in self.log().splitlines():
            if message not in line or not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("msg") == message:
                found.append(record)
        return found


def start_hosts(
    settings: Settings, base: Path, letters: str = "abc", concurrency: int = 4
) -> list[Host]:
    """One worker per letter, ``labstac@host-<letter>``, each under ``base/host-<letter>``."""
    hosts = [
        Host(f"labstac@host-{letter}", settings, base / f"host-{letter}", concurrency).launch()
        for letter in letters
    ]
    return [host.wait_ready() for host in hosts]
