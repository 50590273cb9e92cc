"""Sending hook requests the way GitLab does, and remembering each one.

From ``app/services/web_hook_service.rb`` and ``doc/user/project/integrations/webhooks.md``
("Delivery headers", "Inspect request and response details"):

- one POST per hook and event, JSON body, with ``Content-Type``, ``User-Agent:
  GitLab/<version>``, ``Idempotency-Key``, ``X-Gitlab-Event``, ``X-Gitlab-Webhook-UUID``,
  ``X-Gitlab-Instance``, ``X-Gitlab-Event-UUID`` and, when the hook has a secret,
  ``X-Gitlab-Token``; every UUID is new for every request, except the ``Idempotency-Key``
  of a resent request, which is the original's;
- a timeout (``webhook_timeout``, 10 s by default), no automatic retry, and the response
  code, or ``internal error`` when there was none, kept in the hook's log;
- "Resend Request" sends the logged body again, synchronously, with the same
  ``Idempotency-Key``, and not if the hook's URL has changed since.

Deliveries go out from one background thread, in order. Faults for tests: ``drop_share``
loses that share of deliveries (recorded as ``dropped``, never sent; resends are never
dropped), and ``out_of_order`` holds deliveries back and sends them shuffled, at ``flush()``
or once ``reorder_window`` are waiting. ``flush()`` waits until nothing is left to send, so
tests can wait for deliveries deterministically.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from gitlab_sim.hooks import Hook

GITLAB_VERSION = "18.6.0"
DEFAULT_TIMEOUT_SECONDS = 10.0  # Settings.gitlab['webhook_timeout'] ||= 10

State = Literal["pending", "held", "sent", "failed", "dropped"]


class DeliveryError(ValueError):
    """A resend GitLab would refuse; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class DeliverySettings:
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    drop_share: float = 0.0
    out_of_order: bool = False
    reorder_window: int = 10
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class DeliveryRecord:
    """One request to one hook, as GitLab's "Recent events" shows it."""

    id: int
    hook_id: int
    hook_kind: str
    url: str
    trigger: str
    event: str  # the X-Gitlab-Event header
    payload: dict[str, Any]
    headers: dict[str, str]
    change_id: int  # the change (gitlab_sim.changes) that caused it; 0 for a resend
    created_at: str
    state: State = "pending"
    response_status: int | None = None
    response_body: str = ""
    error: str | None = None
    duration_ms: float | None = None
    resend_of: int | None = None

    @property
    def idempotency_key(self) -> str:
        return self.headers["Idempotency-Key"]

    @property
    def event_name(self) -> str:
        return str(self.payload.get("event_name") or self.payload.get("object_kind") or "")

    def to_json(self) -> dict[str, Any]:
        headers = dict(self.headers)
        if "X-Gitlab-Token" in headers:
            headers["X-Gitlab-Token"] = "[REDACTED]"  # as GitLab's logs show it
        return {
            "id": self.id,
            "hook_id": self.hook_id,
            "hook_kind": self.hook_kind,
            "url": self.url,
            "trigger": self.trigger,
            "event": self.event,
            "event_name": self.event_name,
            "change_id": self.change_id,
            "created_at": self.created_at,
            "state": self.state,
            # GitLab logs "internal error" where no response came back.
            "response_status": (
                self.response_status if self.state != "failed" else "internal error"
            ),
            "response_body": self.response_body,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "resend_of": self.resend_of,
            "idempotency_key": self.idempotency_key,
            "request_headers": headers,
            "request_data": self.payload,
        }


def build_headers(
    hook: Hook, event: str, instance_url: str, idempotency_key: str
) -> dict[str, str]:
    """WebHookService#build_headers, in its order."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"GitLab/{GITLAB_VERSION}",
        "Idempotency-Key": idempotency_key,
        "X-Gitlab-Event": event,
        "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
        "X-Gitlab-Instance": instance_url,
    }
    if hook.token:
        headers["X-Gitlab-Token"] = hook.token.replace("\n", "").replace("\r", "")
    headers["X-Gitlab-Event-UUID"] = str(uuid.uuid4())
    return headers


@dataclass
class Delivery:
    """The delivery queue and log of one simulator."""

    settings: DeliverySettings = field(default_factory=DeliverySettings)
    records: list[DeliveryRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[DeliveryRecord] = deque()
        self._held: list[DeliveryRecord] = []
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._rng = random.Random(self.settings.seed)
        self._next_id = 1

    # ------------------------------------------------------------ settings

    def configure(self, changes: dict[str, Any]) -> DeliverySettings:
        """Change settings, all or none: a refused change leaves them as they were."""
        known = {f.name for f in fields(DeliverySettings)}
        unknown = set(changes) - known
        if unknown:
            raise DeliveryError(f"unknown delivery settings: {', '.join(sorted(unknown))}")
        proposed = DeliverySettings(**self.settings.to_json())
        for key, value in changes.items():
            kind = type(getattr(proposed, key))
            if (kind is bool) != isinstance(value, bool):
                raise DeliveryError(f"{key} must be a {kind.__name__}")
            try:
                setattr(proposed, key, kind(value))
            except (TypeError, ValueError):
                raise DeliveryError(f"{key} must be a {kind.__name__}") from None
        if not 0.0 <= proposed.drop_share <= 1.0:
            raise DeliveryError("drop_share must be between 0 and 1")
        if proposed.timeout_seconds <= 0:
            raise DeliveryError("timeout_seconds must be positive")
        with self._cond:
            self.settings = proposed
            if "seed" in changes:
                self._rng.seed(proposed.seed)
            if not proposed.out_of_order:
                self._release_held()
            self._cond.notify_all()
        return self.settings

    # ------------------------------------------------------------- sending

    def enqueue(
        self,
        hook: Hook,
        *,
        trigger: str,
        event: str,
        payload: dict[str, Any],
        instance_url: str,
        change_id: int,
    ) -> DeliveryRecord:
        """Queue one request to ``hook``; it goes out from the background thread."""
        record = self._record(
            hook,
            trigger=trigger,
            event=event,
            payload=payload,
            headers=build_headers(hook, event, instance_url, str(uuid.uuid4())),
            change_id=change_id,
        )
        with self._cond:
            if self._rng.random() < self.settings.drop_share:
                record.state = "dropped"
                return record
            if self.settings.out_of_order:
                record.state = "held"
                self._held.append(record)
                if len(self._held) >= max(1, self.settings.reorder_window):
                    self._release_held()
            else:
                self._queue.append(record)
            self._ensure_thread()
            self._cond.notify_all()
        return record

    def resend(self, record_id: int, hook: Hook | None, instance_url: str) -> DeliveryRecord:
        """GitLab's "Resend Request": the same body and Idempotency-Key, new UUIDs, sent now."""
        original = self.get(record_id)
        if original is None:
            raise DeliveryError(f"no delivery {record_id}", 404)
        if hook is None:
            raise DeliveryError(f"hook {original.hook_id} no longer exists", 404)
        if hook.url != original.url:
            raise DeliveryError("the hook URL has changed since; GitLab refuses to resend", 422)
        record = self._record(
            hook,
            trigger=original.trigger,
            event=original.event,
            payload=original.payload,
            headers=build_headers(hook, original.event, instance_url, original.idempotency_key),
            change_id=0,
            resend_of=original.id,
        )
        self._send(record)
        return record

    def flush(self, timeout: float = 30.0) -> None:
        """Send everything held back, and wait until nothing is queued or in flight."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._release_held()
            self._ensure_thread()
            self._cond.notify_all()
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._queue)} deliveries still queued")
                self._cond.wait(left)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    # -------------------------------------------------------------- lookups

    def get(self, record_id: int) -> DeliveryRecord | None:
        with self._cond:
            return next((r for r in self.records if r.id == record_id), None)

    def select(
        self,
        *,
        hook_id: int | None = None,
        event: str | None = None,
        after_id: int = 0,
        change_id: int | None = None,
    ) -> list[DeliveryRecord]:
        with self._cond:
            return [
                r
                for r in self.records
                if r.id > after_id
                and (hook_id is None or r.hook_id == hook_id)
                and (event is None or event in (r.event, r.event_name))
                and (change_id is None or r.change_id == change_id)
            ]

    def clear(self) -> None:
        with self._cond:
            self.records = [r for r in self.records if r.state in ("pending", "held")]

    # ------------------------------------------------------------ internals

    def _record(self, hook: Hook, **values: Any) -> DeliveryRecord:
        with self._cond:
            record = DeliveryRecord(
                id=self._next_id,
                hook_id=hook.id,
                hook_kind=hook.kind,
                url=hook.url,
                created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                **values,
            )
            self._next_id += 1
            self.records.append(record)
            return record

    def _release_held(self) -> None:
        # Called with the lock held.
        if self._held:
            self._rng.shuffle(self._held)
            for record in self._held:
                record.state = "pending"
                self._queue.append(record)
            self._held = []

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._closed = False
            self._thread = threading.Thread(target=self._run, name="gitlab-sim-hooks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                record = self._queue.popleft()
                self._busy = True
            try:
                self._send(record)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _send(self, record: DeliveryRecord) -> None:
        started = time.perf_counter()
        try:
            # No retry: one attempt, whatever comes of it (WebHookService#execute).
            response = httpx.post(
                record.url,
                content=json.dumps(record.payload).encode(),
                headers=record.headers,
                timeout=self.settings.timeout_seconds,
                trust_env=False,  # never through a proxy: receivers are on 127.0.0.1
            )
        except httpx.HTTPError as error:
            record.state = "failed"
            record.error = f"{type(error).__name__}: {error}"
        else:
            record.state = "sent"
            record.response_status = response.status_code
            record.response_body = response.text[:8192]  # RESPONSE_BODY_SIZE_LIMIT
        record.duration_ms = round((time.perf_counter() - started) * 1000, 2)
