"""The control endpoints under /-/sim/: another process changes the world over HTTP, the
REST API serves the changed world, and the hooks go out as with the Python API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hook_receiver import Receiver
from hooktest import assert_gitlab_headers, assert_like_doc, names

from gitlab_sim.golden import golden_world
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import World

ROOT = {"PRIVATE-TOKEN": "glpat-golden-root"}
HOOK_KEY = "hook-key"  # a hook's secret token


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver().start()
    yield made
    made.stop()


@pytest.fixture
def sim(serve_world: Callable[[World], SimulatorServer]) -> Iterator[httpx.Client]:
    server = serve_world(golden_world())
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def test_changes_over_http_send_hooks_and_show_in_the_api(
    sim: httpx.Client, receiver: Receiver
) -> None:
    system = {"kind": "system", "url": receiver.url("/system"), "push_events": True}
    hook = ok(sim.post("/-/sim/hooks", json={**system, "token": HOOK_KEY}), 201)
    assert hook["kind"] == "system" and hook["token_set"] and "token" not in hook
    assert hook["push_events"] and hook["repository_update_events"]
    assert [h["id"] for h in ok(sim.get("/-/sim/hooks"))] == [hook["id"]]

    created = ok(
        sim.post(
            "/-/sim/projects", json={"path": "over-http", "group_id": 1, "visibility": "public"}
        )
    )
    project = created["result"]
    assert project["path_with_namespace"] == "acme/over-http"
    assert len(created["deliveries"]) == 1

    pushed = ok(
        sim.post(
            f"/-/sim/projects/{project['id']}/push",
            json={"user_id": 2, "refs": [{"ref": "main", "files": {"README.md": "# hello\n"}}]},
        )
    )
    assert pushed["result"][0]["ref"] == "refs/heads/main"
    assert len(pushed["deliveries"]) == 2  # push and repository_update
    ok(sim.post("/-/sim/deliveries/flush"))

    assert names(receiver.received) == ["project_create", "push", "repository_update"]
    for received in receiver.received:
        assert_gitlab_headers(received, str(sim.base_url).rstrip("/"), token=HOOK_KEY)
    assert_like_doc(receiver.received[1], "system_hook.push")

    # The read side serves the changed world.
    api = ok(sim.get(f"/api/v4/projects/{project['id']}", headers=ROOT))
    assert api["path_with_namespace"] == "acme/over-http"
    raw = sim.get(f"/api/v4/projects/{project['id']}/repository/files/README.md/raw", headers=ROOT)
    assert raw.text == "# hello\n"
    assert raw.headers["X-Gitlab-Commit-Id"] == receiver.received[1].body["after"]

    deliveries = ok(sim.get("/-/sim/deliveries"))
    assert [d["event_name"] for d in deliveries] == ["project_create", "push", "repository_update"]
    assert {d["state"] for d in deliveries} == {"sent"}
    assert deliveries[0]["request_headers"]["X-Gitlab-Token"] == "[REDACTED]"
    assert (
        ok(sim.get("/-/sim/deliveries", params={"change_id": created["change_id"]}))[0]["id"]
        == (created["deliveries"][0])
    )

    resent = ok(sim.post(f"/-/sim/deliveries/{deliveries[1]['id']}/resend"))
    assert resent["resend_of"] == deliveries[1]["id"]
    assert resent["idempotency_key"] == deliveries[1]["idempotency_key"]
    assert receiver.received[-1].headers["Idempotency-Key"] == deliveries[1]["idempotency_key"]
    assert ok(sim.get(f"/-/sim/deliveries/{resent['id']}"))["state"] == "sent"


def test_every_change_kind_has_an_endpoint(sim: httpx.Client, receiver: Receiver) -> None:
    acme_hook = {
        "kind": "group",
        "group_id": 1,
        "url": receiver.url("/acme"),
        "member_events": True,
        "subgroup_events": True,
        "project_events": True,
        "tag_push_events": True,
        "releases_events": True,
    }
    ok(sim.post("/-/sim/hooks", json={"kind": "system", "url": receiver.url("/system")}), 201)
    ok(sim.post("/-/sim/hooks", json=acme_hook), 201)
    made: dict[str, Any] = {}

    def change(method: str, path: str, body: dict[str, Any] | None = None) -> list[str]:
        """The event names a change sent, to every hook, in order."""
        answer = ok(sim.request(method, f"/-/sim{path}", json=body))
        made["result"] = answer["result"]
        ok(sim.post("/-/sim/deliveries/flush"))
        sent = ok(sim.get("/-/sim/deliveries", params={"change_id": answer["change_id"]}))
        assert [d["id"] for d in sent] == answer["deliveries"]
        return [d["event_name"] for d in sent]

    assert change("POST", "/users", {"username": "zed", "name": "Zed"}) == ["user_create"]
    zed = made["result"]["id"]
    member = {"source_type": "group", "source_id": 1, "user_id": zed}
    twice = lambda event: [event, event]  # noqa: E731 - to the system hook and acme's

    assert change("PUT", f"/users/{zed}", {"username": "zed2"}) == ["user_rename"]
    assert change("POST", f"/users/{zed}/block") == []
    assert change("POST", f"/users/{zed}/block", {"blocked": False}) == []
    assert change("POST", "/groups", {"path": "squad", "parent_id": 1}) == [
        "group_create",
        "subgroup_create",
    ]
    assert change("PUT", "/groups/2", {"path": "sight"}) == ["group_rename"]
    assert change("PUT", "/groups/5", {"parent_id": None}) == []
    assert change("POST", "/members", {**member, "access_level": 10}) == twice("user_add_to_group")
    assert change("PUT", "/members", {**member, "access_level": 20}) == twice(
        "user_update_for_group"
    )
    assert change("DELETE", "/members", member) == twice("user_remove_from_group")
    assert change("POST", "/members/expire") == twice("user_remove_from_group")  # frank's
    assert change("PUT", "/projects/1", {"topics": ["x"]}) == ["project_update"]
    assert change("PUT", "/projects/1", {"path": "open"}) == ["project_rename"]
    assert change("POST", "/projects/1/transfer", {"group_id": 7}) == ["project_transfer"]
    assert change("POST", "/projects/2/tags", {"user_id": 2, "tag": "v1"}) == [
        "tag_push",
        "repository_update",
    ]
    release = {"user_id": 2, "tag": "v1", "links": [{"name": "a", "url": "http://a"}]}
    assert change("POST", "/projects/2/releases", release) == ["release"]
    assert change("POST", "/projects/2/shares", {"group_id": 7, "group_access": 20}) == []
    assert change("DELETE", "/projects/2/shares", {"group_id": 7}) == []
    assert change("POST", "/groups/4/shares", {"with_group_id": 7, "group_access": 20}) == []
    assert change("DELETE", "/groups/4/shares", {"with_group_id": 7}) == []
    assert change("DELETE", "/projects/2") == twice("project_destroy")
    assert change("DELETE", f"/users/{zed}") == ["user_destroy"]
    assert "group_destroy" in change("DELETE", "/groups/7")


def test_bad_requests_get_json_errors(sim: httpx.Client) -> None:
    def error(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        body = response.json()
        assert isinstance(body["error"], str) and body["error"]
        return str(body["error"])

    member = {"source_type": "group", "source_id": 1, "user_id": 2, "access_level": 20}
    bad_ref = {"user_id": 2, "refs": [{"ref": "main", "oops": 1}]}
    error(sim.post("/-/sim/projects", content=b"{not json"), 400)
    error(sim.post("/-/sim/projects", json=["a", "list"]), 400)
    error(sim.post("/-/sim/projects", json={"path": "x"}), 400)  # no namespace
    unknown = sim.post("/-/sim/projects", json={"path": "x", "group_id": 1, "color": "red"})
    assert "color" in error(unknown, 400)
    for wrong in ({"path": 5, "group_id": 1}, {"path": "x", "group_id": "1"},
                  {"path": "x", "group_id": 1, "topics": "a,b"},
                  {"path": "x", "group_id": True}):  # fmt: skip
        error(sim.post("/-/sim/projects", json=wrong), 400)
    error(sim.post("/-/sim/members", json={**member, "source_type": "team"}), 400)
    error(sim.put("/-/sim/projects/999", json={"name": "x"}), 404)
    error(sim.post("/-/sim/projects", json={"path": "public-open", "group_id": 1}), 409)
    error(sim.post("/-/sim/projects/1/push", json=bad_ref), 400)
    error(sim.post("/-/sim/members", json=member), 409)  # alice is in acme already
    error(sim.post("/-/sim/hooks", json={"kind": "group", "url": "http://127.0.0.1:1/"}), 400)
    system_with_member_events = {
        "kind": "system",
        "url": "http://127.0.0.1:1/",
        "member_events": True,
    }
    error(sim.post("/-/sim/hooks", json=system_with_member_events), 400)
    error(sim.delete("/-/sim/hooks/99"), 404)
    error(sim.post("/-/sim/deliveries/99/resend"), 404)
    error(sim.put("/-/sim/deliveries/settings", json={"drop_share": 3}), 400)
    error(sim.put("/-/sim/application_settings", json={"push_event_hooks_limit": -1}), 400)
    error(sim.get("/-/sim/nowhere"), 404)
    settings = ok(sim.put("/-/sim/deliveries/settings", json={"timeout_seconds": 5}))
    assert (settings["timeout_seconds"], settings["drop_share"]) == (5, 0)
    limit = ok(sim.put("/-/sim/application_settings", json={"push_event_hooks_limit": 5}))
    assert limit == {"push_event_hooks_limit": 5}
