"""A caller's level on a project they may read: GitLab's role (Guest 10 ... Owner 50) from the
same memberships and ``_acl`` fields the access filter matches, and SharingHub's 0-4 scale
that MLflow SharingHub maps to its permissions.

Only for a project the access filter already let the caller read: visibility is the
filter's business, so the level and the search never disagree on what is seen. The level
is the highest of the caller's paths to the project, as in GitLab:

- a direct membership of the project;
- a direct membership of one of its ancestor groups (inherited);
- a direct membership of a group reaching it through shares, capped by the shares' level
  (``share_levels``: a Maintainer of a group the project is shared with as Reporter is a
  Reporter there).
"""

from __future__ import annotations

from typing import Any

from indexer.access.callers import Principal

GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50
ADMIN = 60  # an administrator: above every role

# SharingHub's access levels (app/providers/schemas.py AccessLevel), from GitLab's
# permissions: adminProject (Maintainer and up), pushCode (Developer), downloadCode (any
# reader of the repository), else only seeing the project.
NO_ACCESS, SEES_PROJECT, READ_ONLY, CONTRIBUTOR, ADMINISTRATOR = 0, 1, 2, 3, 4


def gitlab_level(principal: Principal, acl: dict[str, Any]) -> int:
    """The caller's role on the project of these ``_acl`` fields (0: no membership at all,
    reading it as the public or a signed-in user)."""
    if principal.kind == "admin":
        return ADMIN
    if principal.kind == "anonymous":
        return 0
    groups = principal.memberships.groups
    levels = [principal.memberships.projects.get(int(acl.get("project_id", -1)), 0)]
    levels += [groups[g] for g in acl.get("ancestor_ids", []) if g in groups]
    for group_id, cap in (acl.get("share_levels") or {}).items():
        member = groups.get(int(group_id))
        if member is not None:
            levels.append(min(member, int(cap)))
    return max(levels)


def sharinghub_level(principal: Principal, acl: dict[str, Any]) -> int:
    """SharingHub's 0-4 level of a caller who reads the project's repository: at least
    read-only (downloadCode), contributor from Developer, administrator from Maintainer."""
    level = gitlab_level(principal, acl)
    if level >= MAINTAINER:
        return ADMINISTRATOR
    if level >= DEVELOPER:
        return CONTRIBUTOR
    return READ_ONLY
