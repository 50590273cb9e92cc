"""Member, group and user changes send what GitLab sends; shares, group moves, group
visibility, blocks and display-name changes send nothing, as in GitLab."""

from __future__ import annotations

import pytest
from hooktest import (
    ALL_GROUP_EVENTS,
    ALL_SYSTEM_EVENTS,
    Hub,
    assert_gitlab_headers,
    assert_like_doc,
    names,
    only,
)

from gitlab_sim.changes import ChangeError

HOOK_KEY = "system-hook-key"  # a hook's secret token
EVERY_GROUP = (
    "acme",
    "acme/vision",
    "acme/vision/private-lab",
    "partners",
    "partners/eu",
    "other",
    "other/team",
)


def listen_everywhere(hub: Hub) -> None:
    hub.system_hook(**ALL_SYSTEM_EVENTS)
    for path in EVERY_GROUP:
        hub.group_hook(path, **ALL_GROUP_EVENTS)


# --------------------------------------------------------------- members


def test_project_members_are_heard_by_system_hooks_only(hub: Hub) -> None:
    listen_everywhere(hub)
    project = hub.project("acme/vision/internal-open")
    dave = hub.user("dave")
    changes = hub.changes

    changes.add_member("project", project.id, dave.id, 30)
    changes.update_member("project", project.id, dave.id, access_level=40)
    changes.remove_member("project", project.id, dave.id)
    sent = hub.sent()

    assert names(sent) == ["user_add_to_team", "user_update_for_team", "user_remove_from_team"]
    assert {r.path for r in sent} == {"/system"}
    added, updated, removed = (
        assert_like_doc(sent[0], "system_hook.user_add_to_team"),
        assert_like_doc(sent[1], "system_hook.user_update_for_team"),
        assert_like_doc(sent[2], "system_hook.user_remove_from_team"),
    )
    assert added["access_level"] == "Developer"
    assert updated["access_level"] == removed["access_level"] == "Maintainer"
    for body in (added, updated, removed):
        assert (body["project_id"], body["user_id"]) == (project.id, dave.id)
        assert body["project_path_with_namespace"] == "acme/vision/internal-open"
        assert (body["user_username"], body["user_email"]) == ("dave", "dave@example.com")
        assert body["project_visibility"] == "internal"
    assert not any(
        m.user_id == dave.id for m in hub.world.memberships_by_source[("project", project.id)]
    )


def test_group_members_are_heard_by_system_hooks_and_the_groups_above(hub: Hub) -> None:
    listen_everywhere(hub)
    hub.group_hook("acme", at="/no-member-events", **{**ALL_GROUP_EVENTS, "member_events": False})
    vision = hub.group("acme/vision")
    dave = hub.user("dave")
    changes = hub.changes

    changes.add_member("group", vision.id, dave.id, 10, expires_at="2026-12-31")
    sent = hub.take()
    assert names(sent, "/system") == ["user_add_to_group"]
    body = assert_like_doc(only(sent, "/system"), "system_hook.user_add_to_group")
    assert (body["group_id"], body["group_path"], body["group_name"]) == (
        vision.id,
        "vision",
        "Vision",
    )
    assert (body["user_id"], body["group_access"]) == (dave.id, "Guest")
    heard = sorted(r.path for r in sent if r.path != "/system")
    assert heard == ["/group/acme", "/group/acme/vision"]  # not below, not another tree
    member = assert_like_doc(only(sent, "/group/acme/vision"), "member_hook.user_add_to_group")
    assert member == only(sent, "/group/acme").body
    assert (member["group_id"], member["user_id"], member["group_access"]) == (
        vision.id,
        dave.id,
        "Guest",
    )
    assert member["expires_at"] == "2026-12-31T00:00:00Z" and member["group_plan"] is None

    changes.update_member("group", vision.id, dave.id, access_level=30, expires_at=None)
    sent = hub.take()
    assert names(sent, "/system") == ["user_update_for_group"]
    assert_like_doc(only(sent, "/system"), "system_hook.user_update_for_group")
    member = assert_like_doc(only(sent, "/group/acme/vision"), "member_hook.user_update_for_group")
    assert (member["group_access"], member["expires_at"]) == ("Developer", None)

    # An update that changes nothing reaches system hooks (Member#post_update_hook runs on
    # every save) but not group webhooks (they need a new role or expiry date).
    changes.update_member("group", vision.id, dave.id, access_level=30)
    assert [(r.path, r.event_name) for r in hub.take()] == [("/system", "user_update_for_group")]

    changes.remove_member("group", vision.id, dave.id)
    sent = hub.take()
    assert_like_doc(only(sent, "/system"), "system_hook.user_remove_from_group")
    member = assert_like_doc(only(sent, "/group/acme"), "member_hook.user_remove_from_group")
    assert member["user_id"] == dave.id
    assert names(sent, "/no-member-events") == []

    with pytest.raises(ChangeError):
        changes.add_member("group", vision.id, dave.id, 10, expires_at="2020-01-01")
    changes.add_member("group", vision.id, dave.id, 10)
    with pytest.raises(ChangeError) as taken:
        changes.add_member("group", vision.id, dave.id, 20)
    assert taken.value.status == 409


def test_expired_members_are_removed_with_hooks(hub: Hub) -> None:
    """RemoveExpiredMembersWorker: an expired membership is destroyed like any other."""
    listen_everywhere(hub)
    lab = hub.group("acme/vision/private-lab")
    frank, erin = hub.user("frank"), hub.user("erin")

    expired = hub.changes.expire_members()  # frank's ended on 2026-06-01; today is 06-15
    sent = hub.take()
    assert [(m.user_id, m.source_id) for m in expired] == [(frank.id, lab.id)]
    body = assert_like_doc(only(sent, "/system"), "system_hook.user_remove_from_group")
    assert (body["user_id"], body["group_id"]) == (frank.id, lab.id)
    for path in ("/group/acme", "/group/acme/vision", "/group/acme/vision/private-lab"):
        assert only(sent, path).body["event_name"] == "user_remove_from_group"

    project = hub.project("acme/public-open")
    hub.changes.add_member("project", project.id, erin.id, 20, expires_at="2026-06-20")
    hub.take()
    assert hub.changes.expire_members() == []
    hub.world.today_override = "2026-06-20"
    (removed,) = hub.changes.expire_members()
    assert removed.user_id == erin.id
    assert names(hub.take()) == ["user_remove_from_team"]


# ---------------------------------------------------------------- groups


def test_creating_groups(hub: Hub) -> None:
    listen_everywhere(hub)
    alice = hub.user("alice")
    vision = hub.group("acme/vision")

    top = hub.changes.create_group("labs", "Labs", visibility="public", creator_id=alice.id)
    sent = hub.take()
    assert names(sent) == ["group_create", "user_add_to_group"]  # no parent: no subgroup hook
    body = assert_like_doc(sent[0], "system_hook.group_create")
    assert (body["group_id"], body["name"], body["path"]) == (top.id, "Labs", "labs")
    member = assert_like_doc(sent[1], "system_hook.user_add_to_group")
    assert (member["group_id"], member["user_id"], member["group_access"]) == (
        top.id,
        alice.id,
        "Owner",
    )

    sub = hub.changes.create_group("robots", parent_id=vision.id)
    sent = hub.take()
    assert names(sent, "/system") == ["group_create"]
    heard = sorted(r.path for r in sent if r.path != "/system")
    assert heard == ["/group/acme", "/group/acme/vision"]
    body = assert_like_doc(only(sent, "/group/acme/vision"), "subgroup_hook.subgroup_create")
    assert (body["group_id"], body["full_path"]) == (sub.id, "acme/vision/robots")
    assert (body["parent_group_id"], body["parent_name"], body["parent_path"]) == (
        vision.id,
        "Vision",
        "vision",
    )
    assert body["parent_full_path"] == "acme/vision"

    with pytest.raises(ChangeError):
        hub.changes.create_group("open", parent_id=vision.id, visibility="public")  # > internal
    with pytest.raises(ChangeError):
        hub.changes.create_group("alice")  # a user's namespace


def test_only_a_new_path_of_a_group_sends_something(hub: Hub) -> None:
    listen_everywhere(hub)
    eu = hub.group("partners/eu")

    hub.changes.rename_group(eu.id, "europe", "Europe")
    sent = hub.take()
    assert names(sent) == ["group_rename"]
    body = assert_like_doc(sent[0], "system_hook.group_rename")
    assert (body["path"], body["full_path"], body["name"]) == (
        "europe",
        "partners/europe",
        "Europe",
    )
    assert (body["old_path"], body["old_full_path"]) == ("eu", "partners/eu")
    assert hub.world.find_project("partners/europe/sub") is None  # it is a group, not a project
    assert hub.world.find_group("partners/europe/sub") is not None

    hub.changes.update_group(eu.id, name="Europa")  # a display name alone
    hub.changes.move_group(eu.id, None)  # to the top level, path unchanged
    hub.changes.move_group(eu.id, hub.group("other").id)
    hub.changes.set_group_visibility(hub.group("acme/vision/private-lab").id, "internal")
    assert hub.take() == []
    assert hub.world.group_full_path(eu.id) == "other/europe"
    assert hub.group("acme/vision/private-lab").visibility == "internal"

    with pytest.raises(ChangeError):
        hub.changes.set_group_visibility(hub.group("acme").id, "private")  # public projects inside
    with pytest.raises(ChangeError):
        hub.changes.move_group(hub.group("acme").id, hub.group("acme/vision").id)


def test_deleting_a_group_deletes_what_it_holds_with_their_hooks(hub: Hub) -> None:
    """Groups::DestroyService: projects, then subgroups, then members and the group."""
    listen_everywhere(hub)
    hub.group_hook("acme/vision/private-lab", at="/lab-projects", project_events=True)
    lab = hub.group("acme/vision/private-lab")
    lab_project = hub.project("acme/vision/private-lab/lab-private")
    members = sorted(m.user_id for m in hub.world.memberships_by_source[("group", lab.id)])

    hub.changes.delete_group(lab.id)
    sent = hub.sent()

    assert names(sent, "/system") == [
        "project_destroy",
        *["user_remove_from_group"] * len(members),
        "group_destroy",
    ]
    system = [r for r in sent if r.path == "/system"]
    assert system[0].body["project_id"] == lab_project.id
    assert [r.body["user_id"] for r in system[1:-1]] == members
    body = assert_like_doc(system[-1], "system_hook.group_destroy")
    assert (body["group_id"], body["path"]) == (lab.id, "private-lab")
    # The group's own webhooks hear its projects go, not its members nor itself.
    assert (
        names(sent, "/lab-projects")
        == names(sent, "/group/acme/vision/private-lab")
        == ["project_destroy"]
    )
    for path in ("/group/acme", "/group/acme/vision"):
        assert names(sent, path) == [
            "project_destroy",
            *["user_remove_from_group"] * len(members),
            "subgroup_destroy",
        ]
    sub = assert_like_doc(
        only(sent, "/group/acme/vision", "subgroup_destroy"), "subgroup_hook.subgroup_destroy"
    )
    assert (sub["group_id"], sub["parent_group_id"]) == (lab.id, hub.group("acme/vision").id)
    assert lab.id not in hub.world.group_by_id
    assert lab_project.id not in hub.world.project_by_id
    assert not hub.world.group_shares  # the share of private-lab with other/team went too
    assert all(h.group_id != lab.id for h in hub.hooks.hooks)


# ----------------------------------------------------------------- users


def test_users_created_renamed_blocked(hub: Hub) -> None:
    listen_everywhere(hub)

    user = hub.changes.create_user("zoe", "Zoe")
    body = assert_like_doc(only(hub.take(), "/system"), "system_hook.user_create")
    assert (body["user_id"], body["username"], body["name"], body["email"]) == (
        user.id,
        "zoe",
        "Zoe",
        "zoe@example.com",
    )

    hub.changes.rename_user(user.id, "zoe2")
    body = assert_like_doc(only(hub.take(), "/system"), "system_hook.user_rename")
    assert (body["username"], body["old_username"], body["email"]) == (
        "zoe2",
        "zoe",
        "zoe2@example.com",
    )

    hub.changes.update_user(user.id, name="Zoë")  # a display name alone
    hub.changes.block_user(user.id)
    hub.changes.block_user(user.id, blocked=False)
    assert hub.take() == []
    assert user.name == "Zoë" and user.state == "active"
    with pytest.raises(ChangeError):
        hub.changes.create_user("zoe2")


def test_deleting_users(hub: Hub) -> None:
    """Users::DestroyService: memberships go one by one, then personal projects, then the user."""
    listen_everywhere(hub)
    oscar, peggy = hub.user("oscar"), hub.user("peggy")
    personal = [hub.project("oscar/personal-private"), hub.project("oscar/personal-shared")]

    hub.changes.delete_user(oscar.id)
    sent = hub.take()
    assert names(sent) == [
        "user_remove_from_team", "user_remove_from_team", "project_destroy", "project_destroy",
        "user_destroy",
    ]  # fmt: skip
    assert [r.body["project_id"] for r in sent[2:4]] == [p.id for p in personal]
    body = assert_like_doc(sent[4], "system_hook.user_destroy")
    assert (body["user_id"], body["username"]) == (oscar.id, "oscar")
    assert oscar.id not in hub.world.user_by_id
    assert all(t.user_id != oscar.id for t in hub.world.tokens)

    hub.changes.delete_user(peggy.id)
    sent = hub.take()
    assert names(sent, "/system") == ["user_remove_from_group", "user_destroy"]
    assert sorted(r.path for r in sent if r.path != "/system") == [
        "/group/other",
        "/group/other/team",
    ]


# ------------------------------------------------------ what sends nothing


def test_shares_send_nothing(hub: Hub) -> None:
    listen_everywhere(hub)
    hub.project_hook(
        "acme/public-open", push_events=True, tag_push_events=True, releases_events=True
    )
    changes = hub.changes
    project, team, eu = (
        hub.project("acme/public-open"),
        hub.group("other/team"),
        hub.group("partners/eu"),
    )

    changes.share_project(project.id, team.id, 30, expires_at="2027-01-01")
    changes.share_group(eu.id, team.id, 20)
    assert hub.take() == []
    assert hub.world.project_shares_by_project[project.id][0].group_access == 30
    changes.unshare_project(project.id, team.id)
    changes.unshare_group(eu.id, team.id)
    assert hub.take() == []
    assert hub.delivery.records == []
    with pytest.raises(ChangeError):
        changes.unshare_group(eu.id, team.id)


def test_one_event_through_several_hooks_is_several_deliveries(hub: Hub) -> None:
    hub.system_hook(token=HOOK_KEY)
    hub.group_hook("acme", member_events=True)
    hub.group_hook("acme/vision", member_events=True)

    hub.changes.add_member("group", hub.group("acme/vision").id, hub.user("dave").id, 20)
    sent = hub.sent()

    assert len(sent) == 3
    assert_gitlab_headers(only(sent, "/system"), hub.world.instance_url, token=HOOK_KEY)
    for path in ("/group/acme", "/group/acme/vision"):
        assert_gitlab_headers(only(sent, path), hub.world.instance_url)
    for header in ("Idempotency-Key", "X-Gitlab-Webhook-UUID", "X-Gitlab-Event-UUID"):
        assert len({r.headers[header] for r in sent}) == 3, header
    records = hub.changes.last
    assert len({r.id for r in records}) == 3
    assert {r.change_id for r in records} == {hub.changes.change_id}
