"""``labstac reindex``: rebuild the whole index from GitLab into a new index version, then
swap the aliases at once. Searches keep hitting the old version until the swap; events that
arrive meanwhile are written to both (the building alias), so the new version misses none;
an interrupted run removes its half-built index and leaves the live one as it was."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TextIO

from redis import Redis

from indexer.errors import LabstacError
from indexer.gitlab.facts import GroupInfo
from indexer.gitlab.reader import GitLabReader
from indexer.index.engine import IndexEngine, Write
from indexer.index.layout import (
    IndexLayout,
    drop_abandoned_builds,
    ensure_template,
    next_index_name,
)
from indexer.index.project_sync import ProjectSync
from indexer.progress import Progress
from indexer.stac.categories import Category
from indexer.stac.items import ItemBuilder

log = logging.getLogger(__name__)

BULK_SIZE = 500
# Events during a rebuild may add or remove a few documents in the new version: the count
# check allows that much, and still catches writes that were lost wholesale.
COUNT_TOLERANCE = 0.01
# How long an abandoned reindex tries to remove its half-built index (the engine may be down).
CLEANUP_SECONDS = 60


@dataclass
class ReindexSummary:
    index: str = ""
    seen: int = 0
    written: int = 0
    deleted: int = 0
    stale: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    merge_seconds: float = 0.0
    swapped: bool = False

    def lines(self) -> list[str]:
        rate = self.seen / self.seconds if self.seconds else 0.0
        result = [
            f"index      {self.index} ({'live' if self.swapped else 'NOT swapped'})",
            f"projects   {self.seen} read in {self.seconds:.1f}s ({rate:.1f}/s)",
            f"documents  {self.written} written, {self.deleted} deleted, "
            f"{self.stale} superseded by newer events",
            f"merged     into one segment in {self.merge_seconds:.1f}s",
            f"failed     {len(self.failed)}",
        ]
        result += [f"  {reason}" for reason in self.failed[:50]]
        return result


class ReindexFailed(LabstacError):
    code = "reindex_failed"


@dataclass
class Rebuild:
    engine: IndexEngine
    redis: Redis
    layout: IndexLayout
    categories: Sequence[Category]
    min_access_level: int
    reader_factory: Callable[[dict[int, GroupInfo]], GitLabReader]
    builder: ItemBuilder
    concurrency: int = 8
    stream: TextIO | None = None
    # Set when the reindex lease is lost (another reindex may have started): stop.
    lease_lost: threading.Event = field(default_factory=threading.Event)

    def run(self) -> ReindexSummary:
        started = time.monotonic()
        summary = ReindexSummary()
        ensure_template(self.engine, self.layout)
        for leftover in drop_abandoned_builds(self.engine, self.layout):
            log.warning("removed the index of a reindex that died", extra={"index": leftover})
        new = next_index_name(self.engine, self.layout)
        summary.index = new
        self.engine.create_index(new)
        try:
            self.engine.update_aliases(
                [{"add": {"index": new, "alias": self.layout.building_alias}}]
            )
            self._fill(new, summary)
            summary.seconds = time.monotonic() - started
            self._check(new, summary)
            # A freshly filled index is dozens of small segments, and OpenSearch caches a
            # filter only on large ones: every query would evaluate each caller's access
            # filter from scratch (1.6x an admin's cost for a user in 500 groups, against
            # 1.2x on one segment; docs/benchmarks.md). Later event writes add a few small
            # segments, which OpenSearch merges on its own.
            merging = time.monotonic()
            self.engine.merge(new)
            summary.merge_seconds = time.monotonic() - merging
            self._swap(new)
            summary.swapped = True
        except BaseException:
            log.error("reindex abandoned; the live index is untouched", extra={"index": new})
            self._abandon(new)
            raise
        summary.seconds = time.monotonic() - started
        return summary

    def _abandon(self, new: str) -> None:
        """Remove the half-built index, whatever failed: the engine may be the cause, so
        try for a while. If it stays away, the next reindex removes the leftover, and event
        writes stop feeding it as soon as this run's lease ends."""
        deadline = time.monotonic() + CLEANUP_SECONDS
        while True:
            # The alias may never have been added; the index goes all the same.
            with contextlib.suppress(LabstacError):
                self.engine.update_aliases(
                    [{"remove": {"index": new, "alias": self.layout.building_alias}}]
                )
            try:
                self.engine.delete_index(new)
                return
            except LabstacError as error:
                if time.monotonic() > deadline:
                    log.error(
                        "the half-built index could not be removed; the next reindex will",
                        extra={"index": new, "error": error.description},
                    )
                    return
                time.sleep(2)

    def _fill(self, index: str, summary: ReindexSummary) -> None:
        groups: dict[int, GroupInfo] = {}
        reader = self.reader_factory(groups)
        ids = sorted(reader.projects_in(c.gitlab_topic for c in self.categories))
        summary.seen = len(ids)
        progress = Progress("reindex", len(ids), self.stream)
        pending: queue.Queue[list[Write] | None] = queue.Queue(maxsize=4 * self.concurrency)
        writer = threading.Thread(target=self._write_loop, args=(index, pending, summary))
        writer.start()
        local = threading.local()

        def plan(project_id: int) -> None:
            if self.lease_lost.is_set():
                raise ReindexFailed("the reindex lease was lost: another reindex may run")
            if not hasattr(local, "sync"):
                local.sync = ProjectSync(
                    self.reader_factory(groups), self.engine, self.redis, self.layout,
                    self.categories, self.min_access_level, self.builder,
                )  # fmt: skip
            try:
                _, writes = local.sync.plan(project_id)
            except LabstacError as error:
                summary.failed.append(f"project {project_id}: {error.description}")
                writes = []
            pending.put(writes)
            progress.advance()

        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="reindex") as pool:
                for result in pool.map(plan, ids):
                    del result
        finally:
            pending.put(None)
            writer.join()

    def _write_loop(
        self, index: str, pending: queue.Queue[list[Write] | None], summary: ReindexSummary
    ) -> None:
        batch: list[Write] = []
        while True:
            item = pending.get()
            if item is not None:
                batch += item
            if batch and (item is None or len(batch) >= BULK_SIZE):
                self._flush(index, batch, summary)
                batch = []
            if item is None:
                return

    def _flush(self, index: str, batch: list[Write], summary: ReindexSummary) -> None:
        try:
            results = self.engine.write([index], batch)
        except LabstacError as error:
            summary.failed += [f"{w.doc_id}: {error.description}" for w in batch]
            return
        except Exception as error:
            # The writer must outlive any error: if it died, the planners would block on
            # its full queue and the reindex would hang instead of failing.
            summary.failed += [f"{w.doc_id}: {type(error).__name__}: {error}" for w in batch]
            return
        for result in results:
            if result.outcome == "written":
                summary.written += 1
            elif result.outcome == "stale":
                summary.stale += 1
            elif result.outcome == "failed":
                summary.failed.append(f"{result.doc_id}: {result.error}")
        summary.deleted += sum(1 for r in results if r.outcome == "deleted")

    def _check(self, index: str, summary: ReindexSummary) -> None:
        if self.lease_lost.is_set():
            raise ReindexFailed("the reindex lease was lost: another reindex may run")
        if summary.failed:
            raise ReindexFailed(f"{len(summary.failed)} project(s) or document(s) failed")
        self.engine.refresh(index)
        count = self.engine.count(index)
        if count < summary.written * (1 - COUNT_TOLERANCE):
            raise ReindexFailed(
                f"the new index holds {count} documents, but {summary.written} were written"
            )

    def _swap(self, new: str) -> None:
        layout = self.layout
        live = self.engine.alias_targets(layout.read_alias, layout.write_alias)
        actions: list[dict[str, object]] = []
        for alias, indices in live.items():
            actions += [{"remove": {"index": old, "alias": alias}} for old in indices]
        actions += [
            {"add": {"index": new, "alias": layout.read_alias}},
            {"add": {"index": new, "alias": layout.write_alias}},
            {"remove": {"index": new, "alias": layout.building_alias}},
        ]
        self.engine.update_aliases(actions)
        for old in self.engine.indices(layout.pattern):
            if old != new:
                self.engine.delete_index(old)
