"""The Starlette application factory. Clients to OpenSearch and Redis are opened in the
lifespan and closed with it; nothing connects when the module is imported."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route

from api.errors import EXCEPTION_HANDLERS
from api.health import healthz, readyz
from api.hooks import Enqueuer, gitlab_hook
from api.metrics import ApiMetrics, metrics_endpoint
from api.middleware import RequestContextMiddleware
from api.openapi import openapi_html, openapi_json
from api.stac_routes import landing, stac_routes
from indexer.access.cache import CachedPrincipals
from indexer.access.filter import AccessFilters
from indexer.access.memberships import MembershipResolver
from indexer.gitlab.async_client import GitLabHttp
from indexer.index.engine import Engine
from indexer.index.layout import IndexLayout
from indexer.redis_client import create_async_redis, create_redis
from indexer.settings import Settings, load_settings
from indexer.spool import Spool
from indexer.stac.categories import load_catalog
from workers.app import create_celery_app

log = logging.getLogger(__name__)
DRAIN_SECONDS = 2.0


def create_app(settings: Settings) -> Starlette:
    metrics = ApiMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.engine = Engine.from_settings(settings)
        app.state.redis = create_async_redis(settings)
        celery = create_celery_app(settings)
        app.state.enqueuer = Enqueuer(celery, create_redis(settings), settings.task_queue)
        app.state.spool = Spool(settings.state_dir / "spool")
        app.state.gitlab = GitLabHttp(
            str(settings.gitlab_url),
            settings.gitlab_timeout_seconds,
            observe=metrics.observe_gitlab,
        )
        admin = settings.gitlab_token.get_secret_value() if settings.gitlab_token else ""
        app.state.principals = CachedPrincipals(
            app.state.redis,
            MembershipResolver(app.state.gitlab, admin),
            token_ttl=settings.token_cache_seconds,
            membership_ttl=settings.membership_cache_seconds,
        )
        app.state.access_filters = AccessFilters(
            min_access_level=settings.min_access_level,
            anonymous_access=settings.anonymous_access,
        )
        drainer = asyncio.create_task(_drain_forever(app.state.spool, app.state.enqueuer))
        try:
            yield
        finally:
            drainer.cancel()
            celery.close()
            await app.state.gitlab.close()
            await app.state.engine.close()
            await app.state.redis.aclose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/hooks/gitlab", gitlab_hook, methods=["POST"]),
            # The STAC root itself, without a trailing slash, is the landing page.
            Route(settings.stac_root, landing, methods=["GET"]),
            Mount(
                settings.stac_root,
                routes=stac_routes(
                    [
                        Route("/api", openapi_json, methods=["GET"]),
                        Route("/api.html", openapi_html, methods=["GET"]),
                    ]
                ),
            ),
        ],
        middleware=[
            Middleware(RequestContextMiddleware, metrics=metrics),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "PRIVATE-TOKEN", "X-Gitlab-Token", "Content-Type"],
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.catalog = load_catalog(settings.categories_file)
    app.state.read_alias = IndexLayout(settings.index_prefix).read_alias
    return app


def create_app_from_environment() -> Starlette:
    """Factory for ``uvicorn --factory`` with several worker processes: each builds its own
    settings once, from the same environment the CLI validated."""
    return create_app(load_settings())


async def _drain_forever(spool: Spool, enqueuer: Enqueuer) -> None:
    """Move spooled deliveries to the queue as soon as it answers again."""
    while True:
        await asyncio.sleep(DRAIN_SECONDS)
        try:
            drained = await asyncio.to_thread(spool.drain, enqueuer.deliver_spooled)
        except Exception as error:  # the queue is still down: entries stay, retried later
            log.debug("spool not drained: %s", type(error).__name__)
            continue
        if drained:
            log.info("spooled hooks enqueued", extra={"count": drained})
