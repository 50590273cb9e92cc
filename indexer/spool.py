"""A durable local spool for hook deliveries that could not be enqueued (Redis down).

GitLab never retries a failed delivery and disables hooks that keep failing, so the receiver
still answers 202: the delivery is appended to a JSON-lines file and fsync'd before that
answer, and drained into the queue as soon as Redis is back.

Each process appends to ``hooks-<pid>.jsonl``. A drainer first renames that file to
``pending-<time>-<pid>.jsonl`` (new deliveries start a fresh file), then delivers the pending
files oldest first, each under an exclusive lock, rewriting a file with what is left when
the queue fails again. Entries keep their order, and a file left by a crashed process is
drained by whichever process gets to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexer.errors import UpstreamUnavailable

log = logging.getLogger(__name__)


def _write_synced(path: Path, lines: list[str], mode: int) -> None:
    fd = os.open(path, mode, 0o600)
    try:
        os.write(fd, "".join(lines).encode())
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    @property
    def _file(self) -> Path:
        return self.directory / f"hooks-{os.getpid()}.jsonl"

    def append(self, entry: dict[str, Any]) -> None:
        """Raises ``UpstreamUnavailable`` when the disk refuses the entry (full, read-only):
        then the delivery cannot be accepted, and saying so (503) is better than losing it."""
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        try:
            with self._lock:
                self.directory.mkdir(parents=True, exist_ok=True)
                _write_synced(self._file, [line], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        except OSError as error:
            raise UpstreamUnavailable("spool", f"cannot write: {error.strerror}") from error

    def pending(self) -> int:
        if not self.directory.is_dir():
            return 0
        return sum(
            len([line for line in path.read_text().splitlines() if line.strip()])
            for path in self.directory.glob("*.jsonl")
        )

    def drain(self, deliver: Callable[[dict[str, Any]], None]) -> int:
        """Hand every spooled entry, oldest first, to ``deliver`` (which raises when it
        cannot); what it could not take stays spooled. Returns how many were delivered."""
        if not self.directory.is_dir():
            return 0
        with self._lock, contextlib.suppress(FileNotFoundError):
            if self._file.stat().st_size:
                self._file.rename(
                    self.directory / f"pending-{time.time_ns():020d}-{os.getpid()}.jsonl"
                )
        delivered = 0
        for path in sorted(self.directory.glob("pending-*.jsonl")):
            delivered += self._drain_file(path, deliver)
        # Files of processes that are gone: their owner will never claim them.
        for path in self.directory.glob("hooks-*.jsonl"):
            pid = path.stem.removeprefix("hooks-")
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    path.rename(self.directory / f"pending-{time.time_ns():020d}-{pid}.jsonl")
        return delivered

    def _drain_file(self, path: Path, deliver: Callable[[dict[str, Any]], None]) -> int:
        try:
            handle = path.open("r+")
        except FileNotFoundError:
            return 0
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another process is draining it
            if not path.exists():
                return 0
            lines = [line + "\n" for line in handle.read().splitlines() if line.strip()]
            for index, line in enumerate(lines):
                try:
                    deliver(json.loads(line))
                except Exception:
                    _write_synced(path, lines[index:], os.O_WRONLY | os.O_TRUNC)
                    raise
            path.unlink()
            return len(lines)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
