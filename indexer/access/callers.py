"""Who is asking: the caller of a search, as the access filter needs them.

A ``Principal`` is built once per request from the token (through the resolver and its
cache). It never holds the token itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

GUEST = 10
# Scopes with which a token reads projects' repositories: anything else is anonymous.
READ_SCOPES = frozenset({"api", "read_api", "read_repository"})


@dataclass(frozen=True)
class TokenUser:
    """The GitLab user behind a token, and what the token may do."""

    user_id: int
    username: str
    acts_as_admin: bool
    external: bool
    scopes: frozenset[str]

    @property
    def can_read(self) -> bool:
        return bool(self.scopes & READ_SCOPES)

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "username": self.username,
            "acts_as_admin": self.acts_as_admin,
            "external": self.external,
            "scopes": sorted(self.scopes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenUser:
        return cls(
            user_id=int(data["user_id"]),
            username=str(data["username"]),
            acts_as_admin=bool(data["acts_as_admin"]),
            external=bool(data["external"]),
            scopes=frozenset(data["scopes"]),
        )


@dataclass(frozen=True)
class Memberships:
    """A user's direct memberships, split at the two levels the filter needs."""

    groups: dict[int, int] = field(default_factory=dict)  # group id -> access level
    projects: dict[int, int] = field(default_factory=dict)  # project id -> access level

    def group_ids(self, minimum: int) -> list[int]:
        return sorted(g for g, level in self.groups.items() if level >= minimum)

    def project_ids(self, minimum: int) -> list[int]:
        return sorted(p for p, level in self.projects.items() if level >= minimum)

    def to_json(self) -> dict[str, Any]:
        return {
            "groups": {str(k): v for k, v in self.groups.items()},
            "projects": {str(k): v for k, v in self.projects.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Memberships:
        return cls(
            groups={int(k): int(v) for k, v in data["groups"].items()},
            projects={int(k): int(v) for k, v in data["projects"].items()},
        )


@dataclass(frozen=True)
class Principal:
    kind: Literal["anonymous", "user", "admin"]
    user: TokenUser | None = None
    memberships: Memberships = field(default_factory=Memberships)
    # Equal fingerprints mean equal access, so the access filter built for one serves the
    # other; empty when unknown (never memoized then).
    fingerprint: str = field(default="", compare=False)

    @classmethod
    def anonymous(cls) -> Principal:
        return cls("anonymous", fingerprint="anonymous")

    @property
    def external(self) -> bool:
        return self.user is not None and self.user.external

    def describe(self) -> str:
        """For logs: who, never with what token."""
        if self.user is None:
            return "anonymous"
        return f"{self.kind}:{self.user.username}({self.user.user_id})"
