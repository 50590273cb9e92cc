"""What the simulator can be told to do wrong, like a loaded or failing GitLab: latency on
every call, one route answering late, and a share of calls answered 429 with
``Retry-After``, 5xx, or not answered in time. Draws come from a seeded generator, so a
fault test repeats."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class Faults:
    latency_ms: float = 0.0
    rate_limited_share: float = 0.0  # answered 429 with Retry-After
    retry_after_seconds: int = 1
    server_error_share: float = 0.0  # answered 500, 502 or 503
    timeout_share: float = 0.0  # held for timeout_seconds, then dropped
    timeout_seconds: float = 30.0
    # One route answered late, its answer computed first (what GitLab said before the
    # delay is what arrives after it): e.g. "GET /users/:user/memberships".
    slow_route: str = ""
    slow_route_ms: float = 0.0
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def draw(self) -> str | None:
        """Which fault, if any, the next call suffers: 'rate_limited', 'server_error',
        'timeout' or None."""
        with self._lock:
            roll = self._rng.random()
        if roll < self.rate_limited_share:
            return "rate_limited"
        roll -= self.rate_limited_share
        if roll < self.server_error_share:
            return "server_error"
        roll -= self.server_error_share
        if roll < self.timeout_share:
            return "timeout"
        return None

    def pick_server_error(self) -> int:
        with self._lock:
            return self._rng.choice((500, 502, 503))

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def update(self, changes: dict[str, Any]) -> None:
        known = set(self.to_json())
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            setattr(self, key, type(getattr(self, key))(value))
        if "seed" in changes:
            self._rng.seed(self.seed)
