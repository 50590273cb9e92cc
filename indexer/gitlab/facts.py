"""What GitLab says about who may read a project: its visibility, namespace and shares, and
the groups above it. The reader fills these in; the access model turns them into the index's
``_acl`` fields (indexer.access.fields)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class GroupLink:
    """A share: a project or group shared with ``group_id`` up to ``access_level``."""

    group_id: int
    access_level: int
    expires_at: date | None = None

    def live(self, today: date, minimum: int) -> bool:
        unexpired = self.expires_at is None or self.expires_at > today
        return unexpired and self.access_level >= minimum


@dataclass(frozen=True)
class GroupInfo:
    id: int
    full_path: str
    parent_id: int | None
    shared_with: tuple[GroupLink, ...] = ()


@dataclass(frozen=True)
class ProjectAccessFacts:
    """What GitLab says about who may read one project."""

    project_id: int
    path_with_namespace: str
    visibility: str
    repository_access_level: str  # enabled, private or disabled
    namespace_kind: str  # group or user
    namespace_id: int
    shared_with: tuple[GroupLink, ...] = ()

    @property
    def indexable(self) -> bool:
        """A disabled repository is read by nobody, so it has no place in the catalog."""
        return self.repository_access_level != "disabled"
