"""Per-request context: a request id (taken from ``X-Request-ID`` when it is sane, made up
otherwise, and echoed back), one structured log line per request, and the request metrics.

Only the path is logged, never the query string or headers: a token must never reach a log.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import ApiMetrics

log = logging.getLogger("api.access")

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
UNMATCHED_ROUTE = "unmatched"
CREDENTIAL_HEADERS = frozenset({b"authorization", b"private-token", b"x-gitlab-token"})
# Answers differ by caller: caches must key them on what says who the caller is.
VARY = b"Authorization, PRIVATE-TOKEN, X-Gitlab-Token, Cookie"
WEB_ROUTE = "web catalog"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        credentialed = _credentialed(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                names = {bytes(name).lower() for name, _ in headers}
                if credentialed and b"cache-control" not in names:
                    # One caller's view: never for a shared cache (a cookie, unlike an
                    # Authorization header, does not keep a proxy from storing it).
                    headers.append((b"cache-control", b"private"))
                vary = [value for name, value in headers if bytes(name).lower() == b"vary"]
                headers = [(n, v) for n, v in headers if bytes(n).lower() != b"vary"]
                headers.append((b"vary", b", ".join([*vary, VARY])))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope, status)
            self.metrics.observe(route, scope["method"], status, elapsed)
            log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )


def _credentialed(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name in CREDENTIAL_HEADERS or (name == b"cookie" and b"labstac_session=" in value):
            return True
    return False


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            candidate = bytes(value).decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _route_template(scope: Scope, status: int) -> str:
    # The router records the matched route in the scope; its template (not the concrete
    # path) keeps the metrics' label set small.
    route = scope.get("route")
    path: object = getattr(route, "path", None)
    if path == "":  # the web catalog's mount, which takes whatever no other route took
        return UNMATCHED_ROUTE if status == 404 else WEB_ROUTE
    return path if isinstance(path, str) else UNMATCHED_ROUTE
