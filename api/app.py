"""The Starlette application factory. Clients to OpenSearch and Redis are opened in the
lifespan and closed with it; nothing connects when the module is imported."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from api.errors import EXCEPTION_HANDLERS
from api.health import healthz, readyz
from api.metrics import ApiMetrics, metrics_endpoint
from api.middleware import RequestContextMiddleware
from indexer.engine import Engine
from indexer.redis_client import create_async_redis
from indexer.settings import Settings, load_settings


def create_app(settings: Settings) -> Starlette:
    metrics = ApiMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.engine = Engine.from_settings(settings)
        app.state.redis = create_async_redis(settings)
        try:
            yield
        finally:
            await app.state.engine.close()
            await app.state.redis.aclose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        middleware=[Middleware(RequestContextMiddleware, metrics=metrics)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    return app


def create_app_from_environment() -> Starlette:
    """Factory for ``uvicorn --factory`` with several worker processes: each builds its own
    settings once, from the same environment the CLI validated."""
    return create_app(load_settings())
