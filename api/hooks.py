"""``POST /hooks/gitlab``: GitLab's system hooks and group and project webhooks.

Verify the secret (constant time, several secrets for rotation), read at most the size
limit, validate, drop re-sent deliveries (same ``Idempotency-Key``), enqueue the tasks the
event asks for, answer 202. When the queue cannot be reached the delivery is spooled to disk
(fsync'd) and still answered 202: GitLab never retries, and disables hooks that keep failing.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from celery import Celery
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.errors import error_response
from api.json_response import JSONResponse
from api.metrics import ApiMetrics
from api.request_body import read_body
from indexer.errors import Invalid, UpstreamUnavailable
from indexer.settings import Settings
from indexer.untrusted import load_json
from workers.enqueue import Enqueued, enqueue
from workers.events import EventPlan, PlannedTask, plan_event

log = logging.getLogger(__name__)


class Enqueuer:
    """Puts planned tasks on the Celery queue (coalesced), failing fast when Redis is down.
    Blocking: the receiver calls it from a thread."""

    def __init__(self, app: Celery, redis: SyncRedis, queue: str) -> None:
        self._app = app
        self._redis = redis
        self._queue = queue

    def enqueue(self, tasks: list[PlannedTask]) -> Enqueued:
        return enqueue(self._app, self._redis, self._queue, tasks)

    def deliver_spooled(self, entry: dict[str, Any]) -> None:
        self.enqueue([PlannedTask(t["name"], tuple(t["args"])) for t in entry["tasks"]])


def _secret_ok(given: str, settings: Settings) -> bool:
    matches = [
        hmac.compare_digest(given.encode(), secret.get_secret_value().encode())
        for secret in settings.webhook_secrets
    ]
    return bool(given) and any(matches)


async def _seen_before(redis: Redis, key: str | None, window: int) -> bool:
    if not key or not window:
        return False
    marker = f"labstac:hook-seen:{key[:200]}"
    return not await redis.set(marker, "1", nx=True, ex=window)


async def gitlab_hook(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    metrics: ApiMetrics = request.app.state.metrics
    if not _secret_ok(request.headers.get("x-gitlab-token", ""), settings):
        metrics.count_hook("unknown", "refused")
        return error_response(401, "unauthorized", "missing or wrong X-Gitlab-Token")
    try:
        body = await read_body(request, settings.hook_max_bytes)
        payload = load_json(body, max_depth=settings.request_max_depth, what="the body")
        if not isinstance(payload, dict):
            raise Invalid("the body must be a JSON object")
        plan = plan_event(payload)
    except Invalid:
        metrics.count_hook("unknown", "invalid")
        raise
    return await _accept(request, plan)


async def _accept(request: Request, plan: EventPlan) -> Response:
    state = request.app.state
    metrics: ApiMetrics = state.metrics
    delivery = request.headers.get("idempotency-key") or request.headers.get("x-gitlab-event-uuid")
    outcome = "ignored"
    if plan.tasks:
        try:
            if await _seen_before(state.redis, delivery, state.settings.hook_dedupe_seconds):
                outcome = "duplicate"
            else:
                enqueued = await run_in_threadpool(state.enqueuer.enqueue, list(plan.tasks))
                outcome = "queued" if enqueued.sent else "coalesced"
        except (UpstreamUnavailable, RedisError):
            tasks = [{"name": t.name, "args": list(t.args)} for t in plan.tasks]
            entry = {"event": plan.event, "delivery": delivery, "tasks": tasks}
            await run_in_threadpool(state.spool.append, entry)
            outcome = "spooled"
    metrics.count_hook(plan.event, outcome)
    event = plan.event[:100]  # a name GitLab sends, but the payload is the sender's
    log.info(
        "hook %s: %s",
        event,
        outcome,
        extra={"event": event, "outcome": outcome, "tasks": len(plan.tasks),
               "request_id": request.scope.get("state", {}).get("request_id")},
    )  # fmt: skip
    return JSONResponse(
        {"status": outcome, "event": event, "tasks": len(plan.tasks)}, status_code=202
    )
