"""Repairing the index in place from GitLab, for what GitLab never sends an event about
(shares, a group moved without a rename, visibility of a group, busy pushes, lost
deliveries).

- ``full``: projects missing from the index are added, stale ones (their fingerprint moved)
  rewritten, those GitLab no longer lists with a category topic re-read (and so deleted or
  moved to their new categories). Unchanged projects cost no read.
- ``access``: only the access facts are compared: the ``_acl`` that the listing's project
  records give now, against the one in the index. Only projects whose access changed are
  re-indexed.

Both return the ids of the projects to re-index, so that the caller (a command, or a Celery
task that fans them out as short tasks) decides how to run them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from indexer.access.fields import compute_access_fields
from indexer.gitlab.reader import GitLabReader
from indexer.index.engine import IndexEngine
from indexer.index.layout import IndexLayout
from indexer.stac.categories import Category, categories_of
from indexer.stac.items import fingerprint

log = logging.getLogger(__name__)


@dataclass
class Plan:
    listed: int = 0
    missing: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)

    @property
    def project_ids(self) -> list[int]:
        return sorted({*self.missing, *self.stale, *self.gone})


def _indexed(engine: IndexEngine, layout: IndexLayout) -> dict[int, list[dict[str, Any]]]:
    """The stored documents by project id. A document labstac cannot make sense of (written
    by something else, or by an older labstac) counts as stale: re-indexing its project
    replaces it. One whose text the engine had to mend counts as stale too."""
    documents: dict[int, list[dict[str, Any]]] = {}
    source = ["collection", "labstac.fingerprint", "_acl"]
    for hit in engine.documents(layout.read_alias, source):
        document = hit.get("_source") or {}
        project_id = _project_id(hit)
        if project_id is None:
            log.warning("a document without a project id is left alone", extra={"doc": hit["_id"]})
            continue
        mended = hit["_id"] in engine.repaired
        engine.repaired.discard(hit["_id"])  # once planned; a re-read finds it again if need be
        if mended or not _well_formed(document):
            document = {**document, "labstac": {"fingerprint": None}, "unreadable": True}
        documents.setdefault(project_id, []).append(document)
    return documents


def _project_id(hit: dict[str, Any]) -> int | None:
    acl = (hit.get("_source") or {}).get("_acl")
    value = acl.get("project_id") if isinstance(acl, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # The document key, <collection>:<project id>, names it too.
    tail = str(hit.get("_id", "")).rpartition(":")[2]
    return int(tail) if tail.isascii() and tail.isdigit() and len(tail) < 19 else None


def _well_formed(document: dict[str, Any]) -> bool:
    labstac, acl = document.get("labstac"), document.get("_acl")
    return (
        isinstance(document.get("collection"), str)
        and isinstance(labstac, dict)
        and isinstance(labstac.get("fingerprint"), str)
        and isinstance(acl, dict)
    )


def plan_full(
    reader: GitLabReader,
    engine: IndexEngine,
    layout: IndexLayout,
    categories: Sequence[Category],
) -> Plan:
    listed = reader.projects_in(c.gitlab_topic for c in categories)
    indexed = _indexed(engine, layout)
    plan = Plan(listed=len(listed))
    for project_id, project in listed.items():
        documents = indexed.get(project_id)
        if not documents:
            if project.get("repository_access_level", "enabled") != "disabled":
                plan.missing.append(project_id)
            continue
        wanted = {c.id for c in categories_of(project.get("topics", []), categories)}
        have = {d.get("collection") for d in documents}
        current = fingerprint(project)
        if have != wanted or any(d["labstac"]["fingerprint"] != current for d in documents):
            plan.stale.append(project_id)
    plan.gone = sorted(set(indexed) - set(listed))
    return plan


def plan_access(
    reader: GitLabReader,
    engine: IndexEngine,
    layout: IndexLayout,
    categories: Sequence[Category],
    min_access_level: int,
) -> Plan:
    listed = reader.projects_in(c.gitlab_topic for c in categories)
    indexed = _indexed(engine, layout)
    today = datetime.now(UTC).date()
    plan = Plan(listed=len(listed))
    for project_id, project in listed.items():
        documents = indexed.get(project_id)
        if not documents:
            continue
        facts = reader.access_facts(project)
        now = compute_access_fields(
            facts, reader.group, min_access_level=min_access_level, today=today, version=0
        )
        if any(d.get("unreadable") for d in documents):
            plan.stale.append(project_id)
            continue
        stored = {k: v for k, v in documents[0]["_acl"].items() if k != "version"}
        if not facts.indexable or {k: v for k, v in now.items() if k != "version"} != stored:
            plan.stale.append(project_id)
    return plan
