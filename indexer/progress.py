"""Progress of a long admin run: a live line with rate and ETA on a terminal, a plain line
every few seconds otherwise (logs, CI)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None, every: float = 5.0):
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty()
        self._every = 0.2 if self._live else every
        self._started = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
            now = time.monotonic()
            if now - self._last >= self._every or self.done >= self.total:
                self._last = now
                self._show(now)

    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def _show(self, now: float) -> None:
        rate = self.rate()
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        text = (
            f"{self.label}: {self.done}/{self.total} "
            f"({100 * self.done / max(self.total, 1):.0f}%) {rate:.1f}/s, ETA {left:.0f}s"
        )
        if self._live:
            self._stream.write(f"\r{text}\033[K")
            if self.done >= self.total:
                self._stream.write("\n")
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
