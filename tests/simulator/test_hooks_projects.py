"""Project changes, pushes, tags and releases send what GitLab sends, shaped like the
examples of its documentation (tests/fixtures/gitlab_hooks/), to the hooks that subscribe,
and nothing to the others."""

from __future__ import annotations

import re

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

from gitlab_sim import entities
from gitlab_sim.changes import ChangeError, RefUpdate
from gitlab_sim.payloads import BLANK_SHA

HOOK_KEY = "hook-key-1"  # the hooks' secret token
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ALL_PROJECT_EVENTS = {"push_events": True, "tag_push_events": True, "releases_events": True}


# ------------------------------------------------------------------ projects


def test_a_project_created_in_a_group_reaches_system_hooks_and_the_groups_above(hub: Hub) -> None:
    hub.system_hook(token=HOOK_KEY)
    for path in ("acme", "acme/vision", "acme/vision/private-lab", "partners"):
        hub.group_hook(path, project_events=True)
    hub.group_hook("acme", at="/acme-no-project-events", **{
        **ALL_GROUP_EVENTS, "project_events": False,
    })  # fmt: skip
    vision = hub.group("acme/vision")
    hub.changes.add_member("group", vision.id, hub.user("bob").id, 50)
    hub.take()

    project = hub.changes.create_project(
        "lab2", "Lab Two", group_id=vision.id, visibility="internal"
    )
    sent = hub.sent()

    system = only(sent, "/system")
    assert_gitlab_headers(system, hub.world.instance_url, token=HOOK_KEY)
    body = assert_like_doc(system, "system_hook.project_create")
    assert body["event_name"] == "project_create"
    assert body["project_id"] == project.id
    assert (body["name"], body["path"]) == ("Lab Two", "lab2")
    assert body["path_with_namespace"] == "acme/vision/lab2"
    assert body["project_namespace_id"] == vision.id
    assert body["project_visibility"] == "internal"
    assert body["owners"] == [{"name": "Bob", "email": "bob@example.com"}]
    assert (body["owner_name"], body["owner_email"]) == ("Vision", "")
    assert TIMESTAMP.match(body["created_at"]) and TIMESTAMP.match(body["updated_at"])

    for path in ("/group/acme", "/group/acme/vision"):
        received = only(sent, path)
        assert_gitlab_headers(received, hub.world.instance_url)
        hook_body = assert_like_doc(received, "project_hook.project_create")
        assert hook_body["project_id"] == project.id
        assert hook_body["path_with_namespace"] == "acme/vision/lab2"
        assert hook_body["owners"] == body["owners"]
    assert names(sent, "/group/acme/vision/private-lab") == []  # below the project
    assert names(sent, "/group/partners") == []  # another tree
    assert names(sent, "/acme-no-project-events") == []
    assert len(sent) == 3


def test_a_personal_project_also_makes_its_owner_a_member(hub: Hub) -> None:
    hub.system_hook()
    hub.group_hook("acme", **ALL_GROUP_EVENTS)
    oscar = hub.user("oscar")

    project = hub.changes.create_project("notes", user_id=oscar.id, visibility="public")
    sent = hub.sent()

    assert names(sent) == ["project_create", "user_add_to_team"]
    body = assert_like_doc(sent[0], "system_hook.project_create")
    assert body["path_with_namespace"] == "oscar/notes"
    assert body["project_namespace_id"] == entities.USER_NAMESPACE_BASE + oscar.id
    assert (body["owner_name"], body["owner_email"]) == ("Oscar", "oscar@example.com")
    assert body["owners"] == [{"name": "Oscar", "email": "oscar@example.com"}]
    member = assert_like_doc(sent[1], "system_hook.user_add_to_team")
    assert (member["project_id"], member["user_id"]) == (project.id, oscar.id)
    assert member["access_level"] == "Owner"
    assert member["project_visibility"] == "public"


def test_updates_send_project_update_to_system_hooks_only(hub: Hub) -> None:
    hub.system_hook()
    hub.group_hook("acme", **ALL_GROUP_EVENTS)
    hub.project_hook("acme/public-open", **ALL_PROJECT_EVENTS)
    project = hub.project("acme/public-open")
    changes = hub.changes

    checks = [
        (lambda: changes.update_project(project.id, description="new"), "public"),
        (lambda: changes.set_project_visibility(project.id, "internal"), "internal"),
        (lambda: changes.set_topics(project.id, [" a ", "B", "b", "sharinghub:dataset"]), None),
        (lambda: changes.set_repository_access(project.id, "private"), None),
        (lambda: changes.archive_project(project.id), None),
        (lambda: changes.archive_project(project.id, archived=False), None),
        (lambda: changes.rename_project(project.id, project.path, "Display Name"), None),
    ]
    for change, visibility in checks:
        change()
        sent = hub.take()
        assert names(sent, "/system") == ["project_update"]
        assert len(sent) == 1, names(sent)  # no webhook hears of updates
        body = assert_like_doc(sent[0], "system_hook.project_update")
        assert body["project_id"] == project.id
        assert body["path_with_namespace"] == "acme/public-open"
        if visibility:
            assert body["project_visibility"] == visibility
    assert project.topics == ["a", "B", "sharinghub:dataset"]
    assert project.repository_access_level == "private"
    assert not project.archived and project.name == "Display Name"


def test_a_new_path_sends_project_rename_with_the_old_path(hub: Hub) -> None:
    hub.system_hook()
    hub.group_hook("acme", **ALL_GROUP_EVENTS)
    project = hub.project("acme/public-open")

    hub.changes.rename_project(project.id, "open-data", "Open Data")
    sent = hub.sent()

    assert names(sent) == ["project_rename"]
    body = assert_like_doc(sent[0], "system_hook.project_rename")
    assert body["path_with_namespace"] == "acme/open-data"
    assert body["old_path_with_namespace"] == "acme/public-open"
    assert (body["name"], body["path"]) == ("Open Data", "open-data")
    assert hub.world.find_project("acme/open-data") is project
    assert hub.world.find_project("acme/public-open") is None


def test_a_transfer_sends_project_transfer_and_lowers_visibility(hub: Hub) -> None:
    hub.system_hook()
    for path in ("acme", "partners"):
        hub.group_hook(path, **ALL_GROUP_EVENTS)
    project = hub.project("acme/public-open")

    hub.changes.transfer_project(project.id, group_id=hub.group("partners").id)
    sent = hub.sent()

    assert names(sent) == ["project_transfer"]
    body = assert_like_doc(sent[0], "system_hook.project_transfer")
    assert body["path_with_namespace"] == "partners/public-open"
    assert body["old_path_with_namespace"] == "acme/public-open"
    assert body["project_visibility"] == "private"  # partners is private
    assert body["project_namespace_id"] == hub.group("partners").id


def test_a_transfer_into_a_personal_namespace_makes_its_owner_an_owner(hub: Hub) -> None:
    """Projects::TransferService: the new namespace's owner becomes an Owner member, which
    the system hook tells (user_add_to_team); ProjectMemberPolicy: that membership can be
    neither removed nor lowered."""
    hub.system_hook()
    project, mallory = hub.project("acme/public-open"), hub.user("mallory")

    hub.changes.transfer_project(project.id, user_id=mallory.id)
    sent = hub.sent()

    assert names(sent) == ["project_transfer", "user_add_to_team"]
    added = assert_like_doc(sent[1], "system_hook.user_add_to_team")
    assert (added["user_id"], added["access_level"]) == (mallory.id, "Owner")
    with pytest.raises(ChangeError, match="owner of a personal project"):
        hub.changes.remove_member("project", project.id, mallory.id)
    with pytest.raises(ChangeError, match="owner of a personal project"):
        hub.changes.update_member("project", project.id, mallory.id, access_level=30)


def test_deleting_a_project_sends_project_destroy_and_forgets_its_hooks(hub: Hub) -> None:
    hub.system_hook()
    for path in ("acme", "acme/vision", "partners"):
        hub.group_hook(path, project_events=True)
    hook = hub.project_hook("acme/vision/internal-open", **ALL_PROJECT_EVENTS)
    project = hub.project("acme/vision/internal-open")

    hub.changes.delete_project(project.id)
    sent = hub.sent()

    body = assert_like_doc(only(sent, "/system"), "system_hook.project_destroy")
    assert (body["project_id"], body["path_with_namespace"]) == (
        project.id,
        "acme/vision/internal-open",
    )
    for path in ("/group/acme", "/group/acme/vision"):
        assert assert_like_doc(only(sent, path), "project_hook.project_destroy")["project_id"] == (
            project.id
        )
    assert names(sent, "/group/partners") == []
    assert hub.hooks.get(hook.id) is None
    assert project.id not in hub.world.project_by_id


# ---------------------------------------------------------------- pushes


def test_a_push_to_the_default_branch(hub: Hub) -> None:
    hub.system_hook(push_events=True)
    hub.group_hook("acme")  # push_events is on by default for webhooks
    hub.project_hook("acme/public-open")
    project = hub.project("acme/public-open")
    alice = hub.user("alice")
    before = entities.commit_sha(hub.world, project)
    readme = next(iter(project.files))

    result = hub.changes.push_files(
        project.id, alice.id, {readme: "# changed\n", "data/a.csv": "x,y\n"}, message="Add data"
    )
    after = entities.commit_sha(hub.world, project)
    sent = hub.sent()

    assert before != after
    assert result == [{"before": before, "after": after, "ref": "refs/heads/main"}]
    hook = assert_like_doc(only(sent, "/project/acme/public-open"), "push_hook.push")
    assert hook == only(sent, "/group/acme").body
    assert (hook["before"], hook["after"], hook["checkout_sha"]) == (before, after, after)
    assert hook["ref"] == "refs/heads/main" and hook["ref_protected"] is True
    assert (hook["user_id"], hook["user_username"]) == (alice.id, "alice")
    assert hook["project_id"] == hook["project"]["id"] == project.id
    assert hook["project"]["path_with_namespace"] == "acme/public-open"
    assert hook["project"]["visibility_level"] == 20
    assert hook["project"]["web_url"] == f"{hub.world.instance_url}/acme/public-open"
    assert hook["total_commits_count"] == 1
    (commit,) = hook["commits"]
    assert commit["id"] == after and commit["message"] == commit["title"] == "Add data"
    assert (commit["added"], commit["modified"], commit["removed"]) == (
        ["data/a.csv"],
        [readme],
        [],
    )

    assert names(sent, "/system") == ["push", "repository_update"]
    system = assert_like_doc(only(sent, "/system", "push"), "system_hook.push")
    assert (system["before"], system["after"], system["project_id"]) == (before, after, project.id)
    assert system["commits"][0]["id"] == after
    update = assert_like_doc(
        only(sent, "/system", "repository_update"), "system_hook.repository_update"
    )
    assert update["changes"] == result and update["refs"] == ["refs/heads/main"]

    hub.changes.push_files(project.id, alice.id, {}, removed=["data/a.csv"])
    (again,) = [r for r in hub.sent() if r.path == "/project/acme/public-open"][1:]
    assert again.body["before"] == after
    assert again.body["commits"][0]["removed"] == ["data/a.csv"]
    assert "data/a.csv" not in project.files


def test_system_hooks_hear_pushes_only_when_toggled(hub: Hub) -> None:
    hub.system_hook(at="/basic")  # push_events off, repository_update_events on by default
    hub.system_hook(at="/nothing", repository_update_events=False)
    hub.project_hook("acme/public-open", at="/no-push", push_events=False)
    project = hub.project("acme/public-open")

    hub.changes.push_files(project.id, hub.user("alice").id, {"b.txt": "b"})
    sent = hub.sent()

    assert names(sent, "/basic") == ["repository_update"]
    assert names(sent, "/nothing") == names(sent, "/no-push") == []


def test_pushes_to_other_branches(hub: Hub) -> None:
    hub.project_hook("acme/public-open")
    project = hub.project("acme/public-open")
    alice = hub.user("alice").id
    head = entities.commit_sha(hub.world, project)
    files = dict(project.files)

    hub.changes.push(project.id, alice, [RefUpdate("feature", {"new.txt": "n"})])
    created = assert_like_doc(hub.take()[0], "push_hook.push")
    assert created["ref"] == "refs/heads/feature" and created["ref_protected"] is False
    assert created["before"] == BLANK_SHA and created["after"] == project.branches["feature"]
    assert created["commits"][0]["added"] == ["new.txt"]
    assert project.files == files and entities.commit_sha(hub.world, project) == head

    hub.changes.push(project.id, alice, [RefUpdate("refs/heads/bare")])
    bare = assert_like_doc(hub.take()[0], "push_hook.push")
    assert (bare["before"], bare["after"]) == (BLANK_SHA, head)
    assert bare["commits"] == [] and bare["total_commits_count"] == 0

    hub.changes.push(project.id, alice, [RefUpdate("feature", delete=True)])
    deleted = assert_like_doc(hub.take()[0], "push_hook.push")
    assert deleted["after"] == BLANK_SHA and deleted["checkout_sha"] is None
    assert deleted["commits"] == []
    assert "feature" not in project.branches

    with pytest.raises(ChangeError):
        hub.changes.push(project.id, alice, [RefUpdate("main", delete=True)])
    hub.changes.archive_project(project.id)
    with pytest.raises(ChangeError):
        hub.changes.push_files(project.id, alice, {"x": "y"})
    assert names(hub.sent(), "/project/acme/public-open") == []


def test_more_than_three_refs_of_a_kind_send_no_push_hooks(hub: Hub) -> None:
    """Git::ProcessRefChangesService: a push of more than push_event_hooks_limit refs (by
    kind and action) runs no push hooks at all; repository_update still goes out."""
    hub.system_hook(**ALL_SYSTEM_EVENTS)
    hub.group_hook("acme", **ALL_GROUP_EVENTS)
    hub.project_hook("acme/public-open", **ALL_PROJECT_EVENTS)
    project = hub.project("acme/public-open")
    alice = hub.user("alice").id

    four = [RefUpdate(f"b{i}", {f"{i}.txt": "x"}) for i in range(4)]
    result = hub.changes.push(project.id, alice, four)
    sent = hub.take()
    assert names(sent) == ["repository_update"]
    assert only(sent, "/system").body["refs"] == [c["ref"] for c in result]
    assert len(project.branches) == 4  # the push itself happened

    hub.changes.push(project.id, alice, [RefUpdate(f"refs/tags/t{i}") for i in range(4)])
    assert names(hub.take()) == ["repository_update"]

    hub.changes.push(project.id, alice, [RefUpdate(f"c{i}", {"c.txt": "c"}) for i in range(3)])
    assert names(hub.take(), "/project/acme/public-open") == ["push"] * 3

    mixed = [RefUpdate("d0", {"d": "d"}), RefUpdate("d1", {"d": "d"})]
    mixed += [RefUpdate("refs/tags/u0"), RefUpdate("refs/tags/u1")]
    hub.changes.push(project.id, alice, mixed)
    assert names(hub.take(), "/project/acme/public-open") == ["push", "push"] + ["tag_push"] * 2

    hub.hooks.push_event_hooks_limit = 5
    hub.changes.push(project.id, alice, [RefUpdate(f"e{i}", {"e": "e"}) for i in range(4)])
    assert names(hub.take(), "/project/acme/public-open") == ["push"] * 4


def test_creating_a_tag_sends_tag_push_hooks(hub: Hub) -> None:
    hub.system_hook(tag_push_events=True)
    hub.group_hook("acme", tag_push_events=True)
    hub.project_hook("acme/public-open", tag_push_events=True)
    hub.project_hook("acme/public-open", at="/defaults")  # tag_push_events off by default
    project = hub.project("acme/public-open")
    head = entities.commit_sha(hub.world, project)

    hub.changes.create_tag(project.id, hub.user("alice").id, "v1.0")
    sent = hub.sent()

    hook = assert_like_doc(only(sent, "/project/acme/public-open"), "tag_push_hook.tag_push")
    assert hook == only(sent, "/group/acme").body
    assert (hook["ref"], hook["before"]) == ("refs/tags/v1.0", BLANK_SHA)
    assert hook["after"] == hook["checkout_sha"] == head == project.tags["v1.0"]
    assert hook["project"]["id"] == project.id
    assert names(sent, "/system") == ["tag_push", "repository_update"]
    system = assert_like_doc(only(sent, "/system", "tag_push"), "system_hook.tag_push")
    assert system["after"] == head
    assert names(sent, "/defaults") == []
    with pytest.raises(ChangeError):
        hub.changes.create_tag(project.id, hub.user("alice").id, "v1.0")


def test_creating_a_release_sends_release_hooks(hub: Hub) -> None:
    hub.system_hook(**ALL_SYSTEM_EVENTS)
    hub.group_hook("acme", releases_events=True)
    hub.project_hook("acme/public-open", releases_events=True)
    project = hub.project("acme/public-open")
    alice = hub.user("alice")
    link = {"name": "Model", "url": "https://example.net/model.onnx", "link_type": "package"}

    release = hub.changes.create_release(
        project.id, alice.id, "v2.0", name="Second", description="Better", links=[link]
    )
    sent = hub.sent()

    # The tag did not exist: the release made it, which the system hook hears as a tag push.
    assert names(sent, "/system") == ["tag_push", "repository_update"]
    body = assert_like_doc(only(sent, "/project/acme/public-open"), "release_hook.release")
    assert body == only(sent, "/group/acme").body
    assert (body["id"], body["tag"], body["action"]) == (release.id, "v2.0", "create")
    assert (body["name"], body["description"]) == ("Second", "Better")
    web = f"{hub.world.instance_url}/acme/public-open"
    assert body["url"] == f"{web}/-/releases/v2.0"
    assert body["assets"]["count"] == 5
    assert body["assets"]["links"] == [
        {"id": release.links[0].id, "external": True, "link_type": "package", **link}
    ]
    assert body["assets"]["sources"][0]["url"] == f"{web}/-/archive/v2.0/public-open-v2.0.zip"
    assert body["commit"]["id"] == project.tags["v2.0"]
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", body["created_at"])
    assert body["project"]["id"] == project.id

    hub.changes.create_tag(project.id, alice.id, "v3.0")
    hub.take()
    hub.changes.create_release(project.id, alice.id, "v3.0")
    assert names(hub.take()) == ["release", "release"]  # project and group hooks only
    with pytest.raises(ChangeError):
        hub.changes.create_release(project.id, alice.id, "v3.0")
