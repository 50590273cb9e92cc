"""Bringing one project's documents in line with GitLab: take a version, read the project,
write its documents (one per category) and delete those of categories it left; or, when
GitLab no longer has it, delete them all. Idempotent: any number of runs in any order end
with the newest read in the index."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from indexer.access.fields import compute_access_fields
from indexer.errors import NotFound
from indexer.gitlab.reader import GitLabReader
from indexer.index.engine import IndexEngine, Write, WriteResult
from indexer.index.layout import IndexLayout, write_targets
from indexer.index.versions import take_version
from indexer.lease import lease_held
from indexer.mlflow.store import models_of
from indexer.stac.categories import Category, categories_of
from indexer.stac.items import ItemBuilder, build_documents, doc_key

log = logging.getLogger(__name__)

REINDEX_LEASE = "reindex"


@dataclass
class SyncOutcome:
    project_id: int
    version: int
    written: list[str] = field(default_factory=list)  # collections
    removed: list[str] = field(default_factory=list)
    results: list[WriteResult] = field(default_factory=list)

    @property
    def failures(self) -> list[WriteResult]:
        return [result for result in self.results if not result.ok]


@dataclass
class ProjectSync:
    reader: GitLabReader
    engine: IndexEngine
    redis: Redis
    layout: IndexLayout
    categories: Sequence[Category]
    min_access_level: int
    builder: ItemBuilder

    def plan(self, project_id: int) -> tuple[int, list[Write]]:
        """Take a version, read GitLab, and return the writes that bring the project's
        documents up to date (without writing them)."""
        version = take_version(self.redis)
        try:
            project = self.reader.project(project_id)
        except NotFound:
            return version, self.deletes(project_id, version, self.categories)
        return version, self.writes_for(project, version)

    def writes_for(self, project: dict[str, Any], version: int) -> list[Write]:
        project_id = int(project["id"])
        facts = self.reader.access_facts(project)
        member_of = (
            categories_of(project.get("topics", []), self.categories) if facts.indexable else []
        )
        writes: list[Write] = []
        if member_of:
            fields = compute_access_fields(
                facts,
                self.reader.group,
                min_access_level=self.min_access_level,
                today=datetime.now(UTC).date(),
                version=version,
            )
            snapshot = self.reader.snapshot(project)
            models = models_of(self.redis, project_id) if self.builder.mlflow else ()
            documents = build_documents(self.builder, snapshot, member_of, fields, models)
            self._keep_previous_ids(documents, project_id)
            for category_id, document in documents.items():
                writes.append(Write(doc_key(category_id, project_id), version, document))
            warnings = next(iter(documents.values()))["properties"].get("labstac:warnings")
            if warnings:
                log.warning(
                    "project content has problems",
                    extra={"project": project.get("path_with_namespace"), "warnings": warnings},
                )
        left = [c for c in self.categories if c not in member_of]
        return writes + self.deletes(project_id, version, left)

    def _keep_previous_ids(self, documents: dict[str, dict[str, Any]], project_id: int) -> None:
        """A renamed or moved project keeps its old paths, so that old item URLs redirect."""
        keys = [doc_key(category_id, project_id) for category_id in documents]
        stored = self.engine.sources(self.layout.read_alias, keys, ["id", "previous_ids"])
        for category_id, document in documents.items():
            old = stored.get(doc_key(category_id, project_id))
            if not old:
                continue
            previous = {*old.get("previous_ids", []), old.get("id")} - {document["id"], None}
            if previous:
                document["previous_ids"] = sorted(previous)

    @staticmethod
    def deletes(project_id: int, version: int, categories: Sequence[Category]) -> list[Write]:
        return [Write(doc_key(c.id, project_id), version, None) for c in categories]

    def sync(self, project_id: int) -> SyncOutcome:
        version, writes = self.plan(project_id)
        rebuilding = lease_held(self.redis, REINDEX_LEASE)
        results = self.engine.write(write_targets(self.engine, self.layout, rebuilding), writes)
        outcome = SyncOutcome(project_id, version, results=results)
        outcome.written = [w.doc_id.split(":")[0] for w in writes if w.document is not None]
        outcome.removed = [r.doc_id.split(":")[0] for r in results if r.outcome == "deleted"]
        for failure in outcome.failures:
            log.error(
                "index write failed",
                extra={"project_id": project_id, "doc_id": failure.doc_id,
                       "index": failure.index, "error": failure.error},
            )  # fmt: skip
        return outcome
