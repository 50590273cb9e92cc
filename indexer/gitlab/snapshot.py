"""A project as GitLab shows it at one moment: what an item is built from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class TreeEntry:
    path: str
    type: str  # blob or tree


@dataclass(frozen=True)
class ProjectSnapshot:
    project: dict[str, Any]
    readme: str | None
    tree: tuple[TreeEntry, ...]
    latest_release: dict[str, Any] | None
    readme_path: str | None = None

    @cached_property
    def files(self) -> tuple[str, ...]:
        # Read several times per item (asset rules, features): built once per snapshot.
        return tuple(entry.path for entry in self.tree if entry.type == "blob")
