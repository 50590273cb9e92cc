"""Index documents: a STAC item per project and category, plus the fields labstac needs
(doc key, access fields, fingerprint). The SharingHub mapping (README front matter, assets,
extensions) fills in more; this module holds the document's frame."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from indexer.categories import Category

STAC_VERSION = "1.1.0"


def doc_key(collection: str, project_id: int) -> str:
    """Stable ``_id`` and sort tie-breaker: renames and transfers update in place."""
    return f"{collection}:{project_id}"


def fingerprint(project: dict[str, Any]) -> str:
    """What reconcile compares to skip an unchanged project: what both the project list and
    the single project record carry, including ``last_activity_at``, which moves with every
    push (the license, only in the single record, changes with a push too)."""
    keys = (
        "path_with_namespace", "name", "description", "topics", "visibility",
        "repository_access_level", "default_branch", "last_activity_at", "archived",
        "star_count", "shared_with_groups",
    )  # fmt: skip
    material = json.dumps({key: project.get(key) for key in keys}, sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def build_document(
    project: dict[str, Any], category: Category, access_fields: dict[str, Any]
) -> dict[str, Any]:
    project_id = int(project["id"])
    properties: dict[str, Any] = {
        "title": project.get("name"),
        "description": project.get("description") or "",
        "datetime": project.get("last_activity_at") or project.get("created_at"),
        "created": project.get("created_at"),
        "updated": project.get("last_activity_at"),
        "keywords": [t for t in project.get("topics", []) if t != category.gitlab_topic],
    }
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": project["path_with_namespace"],
        "collection": category.id,
        "doc_key": doc_key(category.id, project_id),
        "geometry": None,
        "properties": properties,
        "links": [],
        "assets": {},
        "labstac": {
            "project_id": project_id,
            "web_url": project.get("web_url"),
            "fingerprint": fingerprint(project),
        },
        "_acl": access_fields,
    }
