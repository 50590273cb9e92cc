"""The access filter: a caller becomes one OpenSearch clause that goes into ``bool.filter``
of every query, page and count. Pure functions, testable without a cluster.

A caller reads a document when one of these holds (docs/access.md explains each against
GitLab's rules):

- the project is public and its repository is not members-only (also anonymous callers,
  unless anonymous access is off);
- it is internal and not members-only, and the caller is signed in and not external;
- a group the caller is a direct member of at the minimum level is one of its ancestors
  (inheritance) or one of its share groups, or the caller is a member of the project itself;
- its members-only repository belongs to a public (or, for non-external callers, internal)
  project and the caller is at least a Guest there, through the same paths.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from indexer.access.callers import GUEST, Principal

ACL = "_acl"
# OpenSearch refuses a terms query with more than index.max_terms_count (65,536) values;
# long lists are split into several clauses well below that.
TERMS_CHUNK = 10_000

MATCH_NONE: dict[str, Any] = {"bool": {"must_not": {"match_all": {}}}}
MATCH_ALL: dict[str, Any] = {"match_all": {}}


def terms(field: str, values: Iterable[int]) -> list[dict[str, Any]]:
    ordered = sorted(set(values))
    return [
        {"terms": {f"{ACL}.{field}": ordered[start : start + TERMS_CHUNK]}}
        for start in range(0, len(ordered), TERMS_CHUNK)
    ]


def readable_repository(visibilities: list[int]) -> dict[str, Any]:
    return {
        "bool": {
            "filter": [
                {"terms": {f"{ACL}.visibility": visibilities}},
                {"term": {f"{ACL}.repository_private": False}},
            ]
        }
    }


def drop_covered_groups(
    group_ids: Iterable[int], ancestors: dict[int, tuple[int, ...]]
) -> list[int]:
    """Drop every group that has an ancestor in the list: for the ``ancestor_ids`` clause the
    ancestor already matches all its projects (as GitLab's own search does)."""
    chosen = set(group_ids)
    return sorted(g for g in chosen if not any(a in chosen for a in ancestors.get(g, ())[:-1]))


def access_filter(
    principal: Principal,
    *,
    min_access_level: int,
    anonymous_access: bool,
    group_ancestors: dict[int, tuple[int, ...]] | None = None,
) -> dict[str, Any]:
    """The ``bool.filter`` clause for this caller. ``group_ancestors`` (group id -> chain
    from the root), when known, lets the ancestor clause drop groups covered by others."""
    if principal.kind == "admin":
        return MATCH_ALL
    if principal.kind == "anonymous":
        return readable_repository([20]) if anonymous_access else MATCH_NONE

    memberships = principal.memberships
    visible = [20] if principal.external else [10, 20]
    groups = memberships.group_ids(min_access_level)
    should: list[dict[str, Any]] = [readable_repository(visible)]
    should += terms("ancestor_ids", drop_covered_groups(groups, group_ancestors or {}))
    should += terms("share_ids", groups)
    should += terms("project_id", memberships.project_ids(min_access_level))

    guest_groups = memberships.group_ids(GUEST)
    guest_projects = memberships.project_ids(GUEST)
    if guest_groups or guest_projects:
        # Projects under a group, or of a project, the caller is a member of at the minimum
        # level already match above: only the guest-only ones need naming again.
        members = set(groups)
        guest_only = [g for g in guest_groups if g not in members]
        projects = set(memberships.project_ids(min_access_level))
        as_guest = (
            terms("ancestor_ids", drop_covered_groups(guest_only, group_ancestors or {}))
            + terms("guest_share_ids", guest_groups)
            + terms("project_id", [p for p in guest_projects if p not in projects])
        )
        should.append(
            {
                "bool": {
                    "filter": [
                        {"terms": {f"{ACL}.visibility": visible}},
                        {"term": {f"{ACL}.repository_private": True}},
                    ],
                    "should": as_guest,
                    "minimum_should_match": 1,
                }
            }
        )
    return {"bool": {"should": should, "minimum_should_match": 1}}


class AccessFilters:
    """Access filters by principal fingerprint, built once for all the requests of the same
    caller with the same memberships (a user in 500 groups costs about a millisecond to
    build). Bounded: the least recently used go first."""

    def __init__(self, *, min_access_level: int, anonymous_access: bool, size: int = 512):
        self._min_access_level = min_access_level
        self._anonymous_access = anonymous_access
        self._size = size
        self._built: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def for_principal(self, principal: Principal) -> dict[str, Any]:
        key = principal.fingerprint
        found = self._built.get(key) if key else None
        if found is not None:
            self._built.move_to_end(key)
            return found
        built = access_filter(
            principal,
            min_access_level=self._min_access_level,
            anonymous_access=self._anonymous_access,
        )
        if key:
            self._built[key] = built
            if len(self._built) > self._size:
                self._built.popitem(last=False)
        return built
