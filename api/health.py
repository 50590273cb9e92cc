"""Liveness and readiness. ``/healthz`` says the process answers; ``/readyz`` says it can do
its job: OpenSearch and Redis both reachable (503 with the reason otherwise)."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response

from api.errors import error_response
from api.json_response import JSONResponse
from indexer.errors import UpstreamUnavailable
from indexer.index.engine import Engine
from indexer.redis_client import ping

# A probe must answer quickly even when a backend hangs rather than refuses.
CHECK_TIMEOUT_SECONDS = 3.0


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    redis: Redis = request.app.state.redis
    opensearch, redis_check = await asyncio.gather(
        _check("opensearch", _opensearch_check(engine)),
        _check("redis", _redis_check(redis)),
    )
    checks = {"opensearch": opensearch, "redis": redis_check}
    failures = [f"{name}: {check['reason']}" for name, check in checks.items() if not check["ok"]]
    if failures:
        return error_response(
            503, "not_ready", "; ".join(failures), headers={"Retry-After": "5"}, checks=checks
        )
    return JSONResponse({"status": "ready", "checks": checks})


async def _opensearch_check(engine: Engine) -> dict[str, Any]:
    health = await engine.health()
    if not health.usable:
        return {"ok": False, "reason": f"cluster status is {health.status}"}
    return {"ok": True, "cluster_status": health.status, "version": health.version}


async def _redis_check(redis: Redis) -> dict[str, Any]:
    await ping(redis)
    return {"ok": True}


async def _check(service: str, probe: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return {"ok": False, "reason": f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"}
    except UpstreamUnavailable as error:
        reason = error.description.removeprefix(f"{service}: ")
        return {"ok": False, "reason": reason}
    return result
