"""Access fields and the access filter as pure functions: what each GitLab fact puts in a
document, and what each kind of caller's clause asks for."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from indexer.access.callers import Memberships, Principal, TokenUser
from indexer.access.fields import ancestor_chain, compute_access_fields
from indexer.access.filter import (
    TERMS_CHUNK,
    AccessFilters,
    access_filter,
    drop_covered_groups,
)
from indexer.gitlab.facts import GroupInfo, GroupLink, ProjectAccessFacts

TODAY = date(2026, 6, 15)
GROUPS = {
    1: GroupInfo(1, "acme", None),
    2: GroupInfo(2, "acme/vision", 1, (GroupLink(9, 30),)),  # vision shared with 9
    3: GroupInfo(3, "acme/vision/lab", 2),
    4: GroupInfo(4, "partners", None),
    5: GroupInfo(5, "partners/eu", 4, (GroupLink(8, 20),)),  # eu shared with 8
    8: GroupInfo(8, "friends", None),
    9: GroupInfo(9, "auditors", None),
}


def facts(**changes: object) -> ProjectAccessFacts:
    values: dict[str, object] = {
        "project_id": 7,
        "path_with_namespace": "acme/vision/lab/model",
        "visibility": "private",
        "repository_access_level": "enabled",
        "namespace_kind": "group",
        "namespace_id": 3,
    }
    values.update(changes)
    return ProjectAccessFacts(**values)  # type: ignore[arg-type]


def fields(project: ProjectAccessFacts, minimum: int = 20) -> dict[str, object]:
    return compute_access_fields(
        project, GROUPS.__getitem__, min_access_level=minimum, today=TODAY, version=42
    )


def test_ancestors_run_from_the_root_down() -> None:
    assert ancestor_chain(3, GROUPS.__getitem__) == (1, 2, 3)
    result = fields(facts())
    assert result["ancestor_ids"] == [1, 2, 3]
    assert result["visibility"] == 0
    assert result["version"] == 42
    assert result["project_id"] == 7


def test_a_group_share_of_an_ancestor_names_only_the_invited_group() -> None:
    assert fields(facts())["share_ids"] == [9]  # vision (an ancestor) is shared with 9


def test_a_project_share_names_the_group_its_ancestors_and_groups_shared_into_it() -> None:
    shared = facts(shared_with=(GroupLink(5, 30),))
    # eu (5), its parent partners (4), friends (8) shared into eu, auditors (9) from vision
    assert fields(shared)["share_ids"] == [4, 5, 8, 9]


def test_shares_below_the_minimum_or_expired_count_for_nothing() -> None:
    capped = facts(shared_with=(GroupLink(5, 10),), namespace_id=4)
    assert fields(capped)["share_ids"] == []
    expired = facts(shared_with=(GroupLink(5, 30, date(2026, 6, 15)),), namespace_id=4)
    assert fields(expired)["share_ids"] == []
    later = facts(shared_with=(GroupLink(5, 30, date(2026, 6, 16)),), namespace_id=4)
    assert fields(later)["share_ids"] == [4, 5, 8]


def test_guest_shares_only_for_members_only_repositories_of_visible_projects() -> None:
    plain = fields(facts(visibility="public", shared_with=(GroupLink(5, 10),), namespace_id=4))
    assert plain["guest_share_ids"] == []
    members_only = fields(
        facts(visibility="public", repository_access_level="private",
              shared_with=(GroupLink(5, 10),), namespace_id=4)
    )  # fmt: skip
    assert members_only["repository_private"] is True
    assert members_only["guest_share_ids"] == [4, 5, 8]
    assert members_only["share_ids"] == []


def test_a_personal_project_has_no_groups() -> None:
    result = fields(facts(namespace_kind="user", namespace_id=900_000_012))
    assert result["ancestor_ids"] == []
    assert result["share_ids"] == []


def test_a_disabled_repository_is_not_indexable() -> None:
    assert not facts(repository_access_level="disabled").indexable
    assert facts(repository_access_level="private").indexable


def user(groups: dict[int, int], projects: dict[int, int] | None = None, *,
         external: bool = False) -> Principal:  # fmt: skip
    token_user = TokenUser(5, "u", False, external, frozenset({"read_api"}))
    return Principal("user", token_user, Memberships(groups, projects or {}))


def test_anonymous_sees_public_readable_repositories_or_nothing() -> None:
    on = access_filter(Principal.anonymous(), min_access_level=20, anonymous_access=True)
    assert on["bool"]["filter"][0] == {"terms": {"_acl.visibility": [20]}}
    assert on["bool"]["filter"][1] == {"term": {"_acl.repository_private": False}}
    off = access_filter(Principal.anonymous(), min_access_level=20, anonymous_access=False)
    assert off == {"bool": {"must_not": {"match_all": {}}}}


def test_an_acting_admin_sees_everything() -> None:
    admin = Principal("admin", TokenUser(1, "root", True, False, frozenset({"api"})))
    assert access_filter(admin, min_access_level=20, anonymous_access=False) == {"match_all": {}}


def test_a_member_clause_uses_levels_and_external_users_lose_internal() -> None:
    clause = access_filter(user({1: 20, 2: 10}, {7: 30}), min_access_level=20,
                           anonymous_access=True)["bool"]["should"]  # fmt: skip
    assert clause[0]["bool"]["filter"][0] == {"terms": {"_acl.visibility": [10, 20]}}
    assert {"terms": {"_acl.ancestor_ids": [1]}} in clause
    assert {"terms": {"_acl.share_ids": [1]}} in clause
    assert {"terms": {"_acl.project_id": [7]}} in clause
    guest = clause[-1]["bool"]
    # Group 1 and project 7 already match above at Reporter and up: only guest-only ones
    # are named again; a share's guest cap applies to every group the caller is in.
    assert guest["should"] == [
        {"terms": {"_acl.ancestor_ids": [2]}},
        {"terms": {"_acl.guest_share_ids": [1, 2]}},
    ]
    external = access_filter(user({1: 20}, external=True), min_access_level=20,
                             anonymous_access=True)["bool"]["should"]  # fmt: skip
    assert external[0]["bool"]["filter"][0] == {"terms": {"_acl.visibility": [20]}}


def test_groups_covered_by_an_ancestor_are_dropped_and_long_lists_split() -> None:
    ancestors = {1: (1,), 2: (1, 2), 3: (1, 2, 3), 4: (4,)}
    assert drop_covered_groups([3, 2, 4, 1], ancestors) == [1, 4]
    assert drop_covered_groups([3, 4], ancestors) == [3, 4]
    many = user(dict.fromkeys(range(1, 25001), 30))
    clause = access_filter(many, min_access_level=20, anonymous_access=True)["bool"]["should"]
    share_clauses = [c for c in clause if "terms" in c and "_acl.share_ids" in c["terms"]]
    assert [len(c["terms"]["_acl.share_ids"]) for c in share_clauses] == [TERMS_CHUNK] * 2 + [5_000]


def test_access_filters_are_built_once_per_fingerprint() -> None:
    filters = AccessFilters(min_access_level=20, anonymous_access=True)
    member = replace(user({1: 20}), fingerprint="user:a")
    same_access = replace(user({1: 20}), fingerprint="user:a")
    other = replace(user({2: 20}), fingerprint="user:b")
    first = filters.for_principal(member)
    assert filters.for_principal(same_access) is first
    assert filters.for_principal(other) == access_filter(
        other, min_access_level=20, anonymous_access=True
    )
    assert filters.for_principal(other) != first
    unknown = user({3: 20})  # no fingerprint: built each time, never shared
    assert filters.for_principal(unknown) is not filters.for_principal(unknown)
