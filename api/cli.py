"""``labstac``: the one command line in front of everything (API server, worker, beat,
operator commands). Each command builds the settings once and passes them down; a bad
setting stops it with one line naming the variable."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from datetime import UTC, datetime
from typing import Any

import click

from indexer.errors import LabstacError, SettingsInvalid
from indexer.heartbeat import read_heartbeats
from indexer.index.engine import Engine
from indexer.logs import configure_logging
from indexer.mlflow.store import last_pass
from indexer.redis_client import create_redis, queue_depth
from indexer.settings import Settings, load_settings
from indexer.spool import Spool
from indexer.stac.categories import load_catalog
from indexer.task_records import (
    dead_letter_count,
    last_reconcile,
    outcomes_last_hour,
    pop_dead_letter,
    push_back_dead_letter,
)

EXIT_SETTINGS = 2
EXIT_UNHEALTHY = 3


def _settings() -> Settings:
    try:
        settings = load_settings()
        # A bad categories file stops us here too.
        load_catalog(settings.categories_file, str(settings.gitlab_url))
    except SettingsInvalid as error:
        click.echo(f"labstac: {error.description}", err=True)
        sys.exit(EXIT_SETTINGS)
    configure_logging(settings.log_level, settings.log_format)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="labstac")
def main() -> None:
    """labstac: a GitLab instance as a searchable STAC catalog.

    Every setting comes from LABSTAC_* environment variables (see the README).
    """


@main.command()
@click.option("--workers", default=1, show_default=True, help="uvicorn worker processes.")
def serve(workers: int) -> None:
    """Run the HTTP API (STAC API, hooks, health, metrics) under uvicorn.

    \b
    Example:
      LABSTAC_GITLAB_URL=https://gitlab.example.com labstac serve --workers 2
    """
    import uvicorn

    settings = _settings()
    if workers > 1:
        # Each worker process builds its own app (and settings) from the same environment.
        target: object = "api.app:create_app_from_environment"
    else:
        from api.app import create_app

        target = create_app(settings)
    uvicorn.run(
        target,  # type: ignore[arg-type]
        factory=workers > 1,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # Forwarded headers are read by api.proxy, from LABSTAC_FORWARDED_ALLOW_IPS only.
        proxy_headers=False,
        server_header=False,
    )


@main.command()
@click.option(
    "--concurrency",
    default=16,
    show_default=True,
    help="Tasks run at once (threads, or processes with --pool prefork).",
)
@click.option(
    "--pool",
    type=click.Choice(["threads", "prefork"]),
    default="threads",
    show_default=True,
    help="threads: tasks wait on GitLab side by side in one process (labstac's tasks spend "
    "their time waiting); prefork: one process per task.",
)
@click.option("--name", default=None, help="Worker node name, unique (default labstac@<host>).")
def worker(concurrency: int, pool: str, name: str | None) -> None:
    """Run a Celery worker that executes labstac's tasks.

    Sizing: a task re-reads a project from GitLab in about six calls, so it lasts about six
    times GitLab's latency (0.3 s at 50 ms) and mostly waits. To keep up with E events per
    second, run about 2 x E x that duration tasks at once: --concurrency 16 takes 20 README
    pushes per second at 50 ms per GitLab call (docs/events.md has the measurements). More
    workers on more hosts add up; each needs its own --name.

    \b
    Example:
      labstac worker --concurrency 32 --name labstac@host-a
    """
    from workers.app import create_celery_app

    settings = _settings()
    app = create_celery_app(settings)
    node = app.Worker(
        hostname=name or f"labstac@{socket.gethostname()}",
        pool_cls=pool,
        concurrency=concurrency,
        queues=[settings.task_queue],
        loglevel=settings.log_level,
        without_gossip=True,
        without_mingle=True,
    )
    node.start()
    # Celery's own command line reports success even when the worker stopped on an error
    # it could not recover from (Redis away past LABSTAC_BROKER_RETRY_SECONDS): its
    # supervisor must see a failure, and restart it.
    sys.exit(node.exitcode or 0)


@main.command()
def beat() -> None:
    """Run the scheduler of the periodic tasks (heartbeat, access pass, reconcile).

    Run exactly one beat per deployment.

    \b
    Example:
      LABSTAC_ACCESS_PASS_SECONDS=120 labstac beat
    """
    from workers.app import create_celery_app

    settings = _settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    app = create_celery_app(settings)
    app.start(
        [
            "beat",
            f"--loglevel={settings.log_level}",
            f"--schedule={settings.state_dir / 'celerybeat-schedule'}",
        ]
    )


@main.command()
def status() -> None:
    """Report OpenSearch, Redis, the task queue, tasks done and failed, dead letters, the
    hook spool, the last reconciles, the last MLflow registry pass and the workers' last
    heartbeats.

    Exits 3 when OpenSearch or Redis cannot be reached.

    \b
    Example:
      labstac status || echo "something is down"
    """
    settings = _settings()
    healthy = True

    async def opensearch_line() -> str:
        engine = Engine.from_settings(settings)
        try:
            health = await engine.health()
        finally:
            await engine.close()
        return f"up, cluster {health.status}, {health.nodes} node(s), OpenSearch {health.version}"

    try:
        click.echo(f"opensearch  {asyncio.run(opensearch_line())}")
    except LabstacError as error:
        healthy = False
        click.echo(f"opensearch  DOWN: {error.description}")

    redis = create_redis(settings)
    try:
        depth = queue_depth(redis, settings.task_queue)
        click.echo(f"redis       up, queue '{settings.task_queue}' holds {depth} task(s)")
        done, failed = outcomes_last_hour(redis, "done"), outcomes_last_hour(redis, "failed")
        click.echo(f"tasks       last hour: {done} done, {failed} failed")
        click.echo(f"dead        {dead_letter_count(redis)} dead letter(s) (labstac retry-dead)")
        spooled = Spool(settings.state_dir / "spool").pending()
        click.echo(f"spool       {spooled} hook delivery(ies) waiting for the queue")
        for kind in ("access", "full"):
            last = last_reconcile(redis, kind)
            if last is None:
                click.echo(f"reconcile   {kind}: never ran")
            else:
                ago = time.time() - float(last["at"])
                click.echo(
                    f"reconcile   {kind}: {ago:.0f}s ago, listed {last['listed']}, "
                    f"re-indexed {last['enqueued']}"
                )
        if settings.mlflow_url is not None:
            click.echo(f"mlflow      {_mlflow_line(last_pass(redis))}")
        now = datetime.now(UTC)
        beats = read_heartbeats(redis)
        if not beats:
            click.echo("workers     none has reported a heartbeat yet")
        for beat_ in beats:
            age = beat_.age_seconds(now)
            late = " (LATE)" if age > 3 * settings.worker_heartbeat_seconds else ""
            click.echo(f"worker      {beat_.worker}: last heartbeat {age:.0f}s ago{late}")
    except LabstacError as error:
        healthy = False
        click.echo(f"redis       DOWN: {error.description}")
    finally:
        redis.close()
    sys.exit(0 if healthy else EXIT_UNHEALTHY)


def _mlflow_line(last: dict[str, Any] | None) -> str:
    if last is None:
        return "no registry pass yet"
    ago = time.time() - float(last["at"])
    if not last.get("ok"):
        return f"last pass {ago:.0f}s ago FAILED: {last.get('error')} (items keep their links)"
    return (
        f"last pass {ago:.0f}s ago: {last.get('models')} model(s) of {last.get('projects')} "
        f"project(s), {last.get('changed')} project(s) re-indexed"
    )


@main.command()
def migrate() -> None:
    """Put this version's index template, live index and new mapping fields in place, and
    the replicas setting on the live index. Run it before the new version's processes
    start (the Helm chart's pre-install and pre-upgrade Job does); they do it too, lazily.
    Exits 1 when the engine cannot be reached or refuses.

    \b
    Example:
      labstac migrate
    """
    from indexer.index.layout import ensure_live_index
    from indexer.index.runtime import IndexRuntime

    settings = _settings()
    runtime = IndexRuntime(settings)
    try:
        live = ensure_live_index(runtime.engine, runtime.layout)
    except LabstacError as error:
        click.echo(f"labstac: migrate failed: {error.description}", err=True)
        sys.exit(1)
    finally:
        runtime.close()
    layout = runtime.layout
    click.echo(f"live index {live.name} behind {layout.read_alias} and {layout.write_alias}")
    click.echo(
        f"template {layout.prefix}-items: {layout.shards} shard(s), {layout.replicas} replica(s)"
    )
    stale = "mapping: a field changed type; searches go on, labstac reindex brings it"
    click.echo("mapping: current" if live.mapping_current else stale)


@main.command()
@click.option("--concurrency", default=8, show_default=True, help="Projects read at once.")
def reindex(concurrency: int) -> None:
    """Rebuild the whole index from GitLab into a new version, then swap it in.

    Searches are served from the old version until the swap; events arriving meanwhile
    reach both. Exits 1 if anything failed (the live index is then left untouched).

    \b
    Example:
      labstac reindex --concurrency 16
    """
    from indexer.index.layout import ensure_index
    from indexer.index.project_sync import REINDEX_LEASE
    from indexer.index.runtime import IndexRuntime
    from indexer.lease import Lease

    settings = _settings()
    runtime = IndexRuntime(settings)
    lease = Lease(runtime.redis, REINDEX_LEASE)
    try:
        if not lease.acquire():
            click.echo("labstac: another reindex is running", err=True)
            sys.exit(1)
        ensure_index(runtime.engine, runtime.layout)
        rebuild = runtime.rebuild(concurrency=concurrency)
        rebuild.lease_lost = lease.lost
        try:
            summary = rebuild.run()
        except LabstacError as error:
            click.echo(f"labstac: reindex failed: {error.description}", err=True)
            sys.exit(1)
        for line in summary.lines():
            click.echo(line)
        sys.exit(1 if summary.failed else 0)
    except LabstacError as error:  # Redis or the engine away before the rebuild began
        click.echo(f"labstac: reindex failed: {error.description}", err=True)
        sys.exit(1)
    finally:
        lease.release()
        runtime.close()


@main.command()
@click.option("--access", "access_only", is_flag=True, help="Compare access facts only.")
@click.option("--dry-run", is_flag=True, help="Say what would be re-indexed, change nothing.")
def reconcile(access_only: bool, dry_run: bool) -> None:
    """Repair the index in place from GitLab: add what is missing, rewrite what is stale,
    drop what is gone. With --access, re-index only projects whose access changed.

    \b
    Example:
      labstac reconcile --access
    """
    from indexer.index.runtime import IndexRuntime

    settings = _settings()
    runtime = IndexRuntime(settings)
    try:
        plan = runtime.reconcile_plan(access_only)
        click.echo(
            f"listed {plan.listed}; missing {len(plan.missing)}, stale {len(plan.stale)}, "
            f"gone {len(plan.gone)}"
        )
        failed = 0
        if not dry_run:
            sync = runtime.project_sync()
            for project_id in plan.project_ids:
                failed += bool(sync.sync(project_id).failures)
        click.echo(
            f"re-indexed {0 if dry_run else len(plan.project_ids) - failed}, failed {failed}"
        )
        sys.exit(1 if failed else 0)
    except LabstacError as error:
        click.echo(f"labstac: reconcile failed: {error.description}", err=True)
        sys.exit(1)
    finally:
        runtime.close()


@main.command("retry-dead")
@click.option("--limit", default=0, help="Replay at most this many (default: all).")
def retry_dead(limit: int) -> None:
    """Send the dead letters (tasks that failed after their last retry) to the queue again,
    oldest first.

    \b
    Example:
      labstac retry-dead --limit 100
    """
    from workers import ledger
    from workers.app import create_celery_app

    settings = _settings()
    redis = create_redis(settings)
    app = create_celery_app(settings)
    replayed = left = 0
    try:
        while not limit or replayed < limit:
            letter = pop_dead_letter(redis)
            if letter is None:
                break
            try:
                ledger.send(app, redis, settings.task_queue, letter["task"], letter["args"],
                            kwargs=letter["kwargs"])  # fmt: skip
            except Exception:
                push_back_dead_letter(redis, letter)
                raise
            replayed += 1
        left = dead_letter_count(redis)
    except LabstacError as error:
        click.echo(f"labstac: {error.description}", err=True)
        sys.exit(1)
    finally:
        app.close()
        redis.close()
    click.echo(f"replayed {replayed} dead letter(s); {left} left")


@main.command()
@click.argument("text", required=False)
@click.option(
    "--collection", "collections", multiple=True, help="Only this collection (repeatable)."
)
@click.option("--bbox", help="west,south,east,north")
@click.option(
    "--datetime", "when", help="An RFC 3339 instant or interval, e.g. 2024-01-01T00:00:00Z/.."
)
@click.option("--limit", default=20, show_default=True)
@click.option(
    "--as-token-env",
    metavar="VAR",
    help="See what the user whose GitLab token is in this environment variable sees.",
)
def search(  # noqa: PLR0917 - click passes every option by position
    text: str | None,
    collections: tuple[str, ...],
    bbox: str | None,
    when: str | None,
    limit: int,
    as_token_env: str | None,
) -> None:
    """Search the index from a terminal and print a table (for operators: everything, unless
    --as-token-env names a variable holding a user's token). TEXT matches titles.

    \b
    Examples:
      labstac search flood --collection ai-model
      labstac search --bbox -10,35,30,60 --datetime 2024-01-01T00:00:00Z/..
      USER_TOKEN=glpat-... labstac search --as-token-env USER_TOKEN
    """
    import os

    from api.stac_params import MAX_LIMIT, parse_bbox, parse_datetime
    from indexer.access.filter import MATCH_ALL, access_filter
    from indexer.access.memberships import principals_from_gitlab
    from indexer.index.runtime import IndexRuntime
    from indexer.search.request import SearchRequest, search_body

    settings = _settings()
    runtime = IndexRuntime(settings)
    try:
        access = MATCH_ALL
        if as_token_env:
            token = os.environ.get(as_token_env)
            if not token:
                raise LabstacError(f"{as_token_env} is not set")
            access = access_filter(
                asyncio.run(principals_from_gitlab(settings, [token]))[0],
                min_access_level=settings.min_access_level,
                anonymous_access=settings.anonymous_access,
            )
        request = SearchRequest(
            collections=collections,
            bbox=parse_bbox(bbox, from_query=True),
            datetime=parse_datetime(when),
            limit=max(1, min(limit, MAX_LIMIT)),
        )
        body = search_body(request, access)
        if text:
            match = {"match": {"properties.title": {"query": text, "operator": "and"}}}
            body["query"]["bool"]["filter"].append(match)
        # Operators see the visibility labstac's API never shows.
        body["_source"] = [
            "id", "collection", "properties.title", "properties.datetime", "_acl.visibility",
        ]  # fmt: skip
        result = runtime.engine.search(runtime.layout.read_alias, body)
    except LabstacError as error:
        click.echo(f"labstac: {error.description}", err=True)
        sys.exit(1)
    finally:
        runtime.close()
    hits = result["hits"]["hits"]
    visibility = {0: "private", 10: "internal", 20: "public"}
    rows = [("COLLECTION", "ID", "TITLE", "UPDATED", "VISIBILITY")]
    for hit in hits:
        item = hit["_source"]
        rows.append((
            item["collection"], item["id"], str(item["properties"].get("title", ""))[:40],
            str(item["properties"].get("datetime", ""))[:10],
            visibility.get(item.get("_acl", {}).get("visibility"), "?"),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    click.echo(f"{len(hits)} of {result['hits']['total']['value']} item(s)")
