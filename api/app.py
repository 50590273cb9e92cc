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

from api.downloads import download_archive, download_file, downloads_client
from api.errors import EXCEPTION_HANDLERS
from api.health import healthz, readyz
from api.hooks import Enqueuer, gitlab_hook
from api.metrics import ApiMetrics, metrics_endpoint
from api.middleware import RequestContextMiddleware
from api.openapi import openapi_html, openapi_json
from api.proxy import ForwardedHeadersMiddleware
from api.sessions import Sessions
from api.sharinghub import auth_info, check
from api.signin import callback, login, logout
from api.stac_routes import landing, stac_routes
from api.web import WebCatalog, config_js
from indexer.access.cache import CachedPrincipals
from indexer.access.filter import AccessFilters
from indexer.access.memberships import MembershipResolver
from indexer.gitlab.async_client import GitLabHttp
from indexer.index.engine import Engine
from indexer.index.layout import IndexLayout
from indexer.redis_client import create_async_redis, create_redis
from indexer.search.limits import SearchLimits
from indexer.settings import Settings, load_settings
from indexer.spool import Spool
from indexer.stac.categories import load_catalog
from workers.app import create_celery_app
from workers.events import INDEX_PROJECT, PlannedTask

log = logging.getLogger(__name__)
DRAIN_SECONDS = 2.0


def create_app(settings: Settings) -> Starlette:
    metrics = ApiMetrics(index_size=settings.metrics_token is not None)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        to_heal: set[str] = set()

        def repaired(doc_ids: list[str]) -> None:
            metrics.documents_repaired.inc(len(doc_ids))
            to_heal.update(doc_ids)

        app.state.engine = Engine.from_settings(settings, on_repaired=repaired)
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
            unknown_tokens_per_minute=settings.unknown_tokens_per_minute,
        )
        app.state.sessions = Sessions(app.state.redis, settings)
        app.state.downloads = downloads_client(settings.gitlab_timeout_seconds)
        app.state.access_filters = AccessFilters(
            min_access_level=settings.min_access_level,
            anonymous_access=settings.anonymous_access,
        )
        drainer = asyncio.create_task(_drain_forever(app.state.spool, app.state.enqueuer))
        healer = asyncio.create_task(_heal_forever(to_heal, app.state.enqueuer))
        try:
            yield
        finally:
            drainer.cancel()
            healer.cancel()
            celery.close()
            await app.state.downloads.aclose()
            await app.state.gitlab.close()
            await app.state.engine.close()
            await app.state.redis.aclose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/hooks/gitlab", gitlab_hook, methods=["POST"]),
            Route(f"{settings.sharinghub_root}/api/check/{{project:path}}", check, methods=["GET"]),
            Route(f"{settings.sharinghub_root}/api/auth/info", auth_info, methods=["GET"]),
            Route("/auth/login", login, methods=["GET"]),
            Route("/auth/callback", callback, methods=["GET"]),
            Route("/auth/logout", logout, methods=["GET", "POST"]),
            Route(
                "/download/projects/{project_id}/files/{file_path:path}",
                download_file,
                methods=["GET", "HEAD"],
            ),
            Route(
                "/download/projects/{project_id}/archive.{format}",
                download_archive,
                methods=["GET", "HEAD"],
            ),
            Route("/config.js", config_js, methods=["GET"]),
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
            # Last: everything else is the web catalog's.
            Mount("/", app=WebCatalog(settings.web_dir)),
        ],
        middleware=[
            Middleware(ForwardedHeadersMiddleware, trusted=settings.forwarded_allow_ips),
            Middleware(RequestContextMiddleware, metrics=metrics),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                # The session cookie crosses origins only to origins named one by one.
                allow_credentials="*" not in settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "PRIVATE-TOKEN", "X-Gitlab-Token", "Content-Type"],
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.catalog = load_catalog(settings.categories_file, str(settings.gitlab_url))
    app.state.read_alias = IndexLayout(settings.index_prefix).read_alias
    app.state.search_limits = SearchLimits.from_settings(settings)
    return app


def create_app_from_environment() -> Starlette:
    """Factory for ``uvicorn --factory`` with several worker processes: each builds its own
    settings once, from the same environment the CLI validated."""
    return create_app(load_settings())


async def _heal_forever(doc_ids: set[str], enqueuer: Enqueuer) -> None:
    """Re-index the projects of stored documents that had to be served mended (invalid
    text): their re-read from GitLab replaces them with clean ones."""
    while True:
        await asyncio.sleep(DRAIN_SECONDS)
        if not doc_ids:
            continue
        taken = list(doc_ids)
        doc_ids.difference_update(taken)
        project_ids = sorted({int(i.rpartition(":")[2]) for i in taken if _is_doc_key(i)})
        tasks = [PlannedTask(INDEX_PROJECT, (project_id,)) for project_id in project_ids]
        try:
            await asyncio.to_thread(enqueuer.enqueue, tasks)
        except Exception as error:  # the queue is down: the next read of them tries again
            log.debug("mended documents not sent for re-indexing: %s", type(error).__name__)
            continue
        log.info("mended documents sent for re-indexing", extra={"projects": project_ids})


def _is_doc_key(doc_id: str) -> bool:
    tail = doc_id.rpartition(":")[2]
    return tail.isascii() and tail.isdigit() and len(tail) < 19


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
