"""The one place that turns exceptions into HTTP responses. Every 4xx and 5xx labstac sends
has the JSON body ``{"code": ..., "description": ...}``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from api.json_response import JSONResponse
from indexer.errors import (
    Conflict,
    Invalid,
    LabstacError,
    NotFound,
    SettingsInvalid,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    UpstreamUnavailable,
)

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[LabstacError], int] = {
    Invalid: 400,
    TooLarge: 413,
    TooManyRequests: 429,
    Unauthorized: 401,
    NotFound: 404,
    Conflict: 409,
    UpstreamUnavailable: 503,
    SettingsInvalid: 500,
}


def error_response(
    status: int,
    code: str,
    description: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        {"code": code, "description": description, **extra}, status_code=status, headers=headers
    )


def status_code_name(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def status_for(error: LabstacError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 500


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    description = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and description == "Not Found":
        description = f"no route matches {request.url.path}"
    return error_response(
        exc.status_code, status_code_name(exc.status_code), description, dict(exc.headers or {})
    )


async def handle_labstac_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, LabstacError):  # registered for LabstacError only
        raise exc
    status = status_for(exc)
    if status >= 500:
        log.warning(
            "request failed: %s",
            exc.description,
            extra={"request_id": request.scope.get("state", {}).get("request_id")},
        )
    headers = None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return error_response(status, exc.code, exc.description, headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"request_id": request.scope.get("state", {}).get("request_id")},
    )
    return error_response(500, "internal_error", "an unexpected error occurred; see the logs")


EXCEPTION_HANDLERS = {
    HTTPException: handle_http_exception,
    LabstacError: handle_labstac_error,
    Exception: handle_unexpected,
}
