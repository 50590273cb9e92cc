"""Prometheus metrics of the API process, in a registry of its own per app (no process-wide
singleton, so tests can build several apps)."""

from __future__ import annotations

import contextlib
import hmac

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from indexer.errors import LabstacError, Unauthorized
from indexer.task_records import DEAD_LETTERS, stats_keys_last_hour
from workers.events import KNOWN_EVENTS

# Request latencies of a search API: most answers well under a second.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Every label value comes from a fixed set: a client chooses its method (h11 accepts any
# token) and a hook sender its event name, and each new value would be a new series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HOOK_OUTCOMES = frozenset(
    {"queued", "coalesced", "spooled", "duplicate", "ignored", "refused", "invalid"}
)
OTHER = "other"


class ApiMetrics:
    def __init__(self, index_size: bool = True) -> None:
        """``index_size``: whether to report how many documents the index holds (only to
        callers with the metrics token)."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "labstac_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "labstac_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

        self.hooks = Counter(
            "labstac_hooks",
            "GitLab hook deliveries, by event and outcome (queued, coalesced, spooled, "
            "duplicate, ignored, refused, invalid).",
            ["event", "outcome"],
            registry=self.registry,
        )

        self.gitlab_calls = Counter(
            "labstac_gitlab_calls",
            "Calls to GitLab's API from this process, by HTTP status (0: no answer).",
            ["status"],
            registry=self.registry,
        )
        self.gitlab_latency = Histogram(
            "labstac_gitlab_call_duration_seconds",
            "Time GitLab took to answer a call from this process.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Read at scrape time, from Redis and OpenSearch (shared by every process).
        self.queue_depth = Gauge(
            "labstac_queue_depth", "Tasks waiting in the queue.", registry=self.registry
        )
        self.index_documents = Gauge(
            "labstac_index_documents",
            "Documents in the live index.",
            registry=self.registry if index_size else None,
        )
        self.tasks_last_hour = Gauge(
            "labstac_tasks_last_hour",
            "Tasks that ended in the last hour, by outcome (done, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "labstac_dead_letters", "Tasks that failed after their last retry.",
            registry=self.registry,
        )  # fmt: skip
        self.documents_repaired = Counter(
            "labstac_documents_repaired",
            "Stored documents served with invalid text mended (a reconcile re-indexes them).",
            registry=self.registry,
        )
        self.documents_skipped = Counter(
            "labstac_documents_skipped",
            "Stored documents left out of a response because they could not be rendered.",
            registry=self.registry,
        )
        self.tokens_limited = Counter(
            "labstac_unknown_tokens_limited",
            "Requests refused (429) because their address sent too many unknown tokens.",
            registry=self.registry,
        )

    def observe_gitlab(self, status: int, seconds: float) -> None:
        self.gitlab_calls.labels(status=str(status)).inc()
        self.gitlab_latency.observe(seconds)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else OTHER
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.latency.labels(route=route, method=method).observe(seconds)

    def count_hook(self, event: str, outcome: str) -> None:
        event = event if event in KNOWN_EVENTS or event == "unknown" else OTHER
        outcome = outcome if outcome in HOOK_OUTCOMES else OTHER
        self.hooks.labels(event=event, outcome=outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def metrics_endpoint(request: Request) -> Response:
    """The metrics. With ``LABSTAC_METRICS_TOKEN`` set, only for that bearer token; without
    it, open, but without the index's size (which tells an anonymous caller how many
    documents exist that it may not see)."""
    state = request.app.state
    metrics: ApiMetrics = state.metrics
    expected = state.settings.metrics_token
    if expected is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
            raise Unauthorized("/metrics needs the metrics token (Authorization: Bearer)")
    redis = state.redis
    # The shared state is read when scraped; a backend that is down leaves the last value.
    with contextlib.suppress(RedisError, OSError):
        metrics.queue_depth.set(await redis.llen(state.settings.task_queue))
        metrics.dead_letters.set(await redis.llen(DEAD_LETTERS))
        for outcome in ("done", "failed"):
            values = await redis.mget(stats_keys_last_hour(outcome))
            metrics.tasks_last_hour.labels(outcome=outcome).set(sum(int(v) for v in values if v))
    if expected is not None:
        with contextlib.suppress(LabstacError):
            body = {"size": 0, "track_total_hits": True}
            found = await state.engine.search(state.read_alias, body)
            metrics.index_documents.set(found["hits"]["total"]["value"])
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
