"""The ``_acl`` object of an index document: who may read the project, in terms a query can
match against a caller's memberships (see docs/access.md).

    project_id          the GitLab project id (direct project members match it)
    visibility          0 private, 10 internal, 20 public
    repository_private  the repository is members-only ("Only Project Members")
    ancestor_ids        every group from the root namespace down to the project's namespace
    share_ids           groups whose *direct* members read the project through a share at or
                        above the minimum level: for a project shared with group H, H and its
                        ancestors (H's inherited members) plus the groups H or its ancestors
                        are shared with (H's shared members); for a group share of one of the
                        project's ancestors, the invited group itself (direct members only)
    guest_share_ids     the same at the Guest level, for members-only repositories of public
                        and internal projects, which a Guest may read
    share_levels        every group reaching the project through a live share, with the
                        highest level a share grants its members there (a member's level is
                        capped by it): not searched, read for a caller's level (levels.py)
    version             the counter value taken before the GitLab read

Everything here is pure: GitLab's answers come in as ``ProjectAccessFacts`` and a directory
of groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from indexer.gitlab.facts import GroupInfo, ProjectAccessFacts

GUEST = 10
VISIBILITY_LEVELS = {"private": 0, "internal": 10, "public": 20}

GroupDirectory = Callable[[int], GroupInfo]


def ancestor_chain(group_id: int, directory: GroupDirectory) -> tuple[int, ...]:
    """The group and its ancestors, from the root namespace down."""
    chain: list[int] = []
    current: int | None = group_id
    while current is not None:
        if current in chain:  # a cycle would be GitLab's bug; do not loop forever on it
            break
        chain.append(current)
        current = directory(current).parent_id
    return tuple(reversed(chain))


def share_levels(
    facts: ProjectAccessFacts, ancestors: Iterable[int], directory: GroupDirectory, today: date
) -> dict[int, int]:
    """Each group whose direct members reach the project through live shares, with the
    highest level those shares grant (a share caps its members' level at its own): for a
    project shared with group H, H and its ancestors (H's inherited members) and the groups
    H or its ancestors are shared with (H's shared members, capped by both shares); for a
    share of one of the project's ancestors, the invited group itself."""
    levels: dict[int, int] = {}

    def offer(group_id: int, level: int) -> None:
        levels[group_id] = max(levels.get(group_id, 0), level)

    for link in facts.shared_with:
        if not link.live(today, GUEST):
            continue
        invited_chain = ancestor_chain(link.group_id, directory)
        for group_id in invited_chain:
            offer(group_id, link.access_level)
        for group_id in invited_chain:
            for share in directory(group_id).shared_with:
                if share.live(today, GUEST):
                    offer(share.group_id, min(link.access_level, share.access_level))
    for group_id in ancestors:
        for share in directory(group_id).shared_with:
            if share.live(today, GUEST):
                offer(share.group_id, share.access_level)
    return levels


def compute_access_fields(
    facts: ProjectAccessFacts,
    directory: GroupDirectory,
    *,
    min_access_level: int,
    today: date,
    version: int,
) -> dict[str, Any]:
    ancestors = (
        ancestor_chain(facts.namespace_id, directory) if facts.namespace_kind == "group" else ()
    )
    visibility = VISIBILITY_LEVELS[facts.visibility]
    repository_private = facts.repository_access_level == "private"
    shares = share_levels(facts, ancestors, directory, today)
    guest_share_ids: list[int] = []
    if repository_private and visibility > 0:
        guest_share_ids = sorted(shares)  # every live share grants Guest at least
    return {
        "project_id": facts.project_id,
        "visibility": visibility,
        "repository_private": repository_private,
        "ancestor_ids": list(ancestors),
        "share_ids": sorted(g for g, level in shares.items() if level >= min_access_level),
        "guest_share_ids": guest_share_ids,
        # Keys are text: the document is JSON.
        "share_levels": {str(g): level for g, level in sorted(shares.items())},
        "version": version,
    }
