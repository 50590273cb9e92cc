"""Support for the hook tests: a world with its hooks, deliveries and changes and a receiver
(``Hub``), and a comparison of payloads with the examples of GitLab's documentation kept in
``tests/fixtures/gitlab_hooks/`` (one file per event, keys starting "_" are notes: the page
and section, the ``X-Gitlab-Event`` header, and the fields GitLab's code may send as null).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hook_receiver import Received, Receiver

from gitlab_sim.changes import Changes
from gitlab_sim.delivery import Delivery
from gitlab_sim.hooks import Hook, HookRegistry
from gitlab_sim.world import Group, Project, User, World

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gitlab_hooks"
# The events the simulator sends to a group hook and to a system hook, all switched on.
ALL_GROUP_EVENTS = {
    "push_events": True,
    "tag_push_events": True,
    "releases_events": True,
    "member_events": True,
    "project_events": True,
    "subgroup_events": True,
}
ALL_SYSTEM_EVENTS = {
    "push_events": True,
    "tag_push_events": True,
    "merge_requests_events": True,
    "repository_update_events": True,
}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def hook_fixture(name: str) -> dict[str, Any]:
    """A payload example of GitLab's documentation, with its notes (keys starting "_")."""
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def shape_problems(ours: Any, theirs: Any, nullable: set[str], path: str = "$") -> list[str]:
    """How ``ours`` differs from the documented example in keys, nesting and JSON types.
    A list's items are each compared with the example's first item; a null in the example
    must be null here; a null here is allowed where the fixture's ``_nullable`` says so."""
    if theirs is None:
        return [] if ours is None else [f"{path}: null in the docs, {type(ours).__name__} here"]
    if ours is None:
        return [] if path.removeprefix("$.") in nullable else [f"{path}: null here"]
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{path}: object in the docs, {type(ours).__name__} here"]
        expected = {k for k in theirs if not (path == "$" and k.startswith("_"))}
        problems = [f"{path}.{k}: missing" for k in sorted(expected - set(ours))]
        problems += [f"{path}.{k}: not in the docs" for k in sorted(set(ours) - expected)]
        for key in sorted(expected & set(ours)):
            problems += shape_problems(ours[key], theirs[key], nullable, f"{path}.{key}")
        return problems
    if isinstance(theirs, list):
        if not isinstance(ours, list):
            return [f"{path}: array in the docs, {type(ours).__name__} here"]
        if not theirs:
            return [] if not ours else [f"{path}: empty in the docs"]
        return [p for item in ours for p in shape_problems(item, theirs[0], nullable, f"{path}[]")]
    if type(ours) is not type(theirs):
        return [f"{path}: {type(theirs).__name__} in the docs, {type(ours).__name__} here"]
    return []


def assert_like_doc(received: Received, name: str) -> dict[str, Any]:
    """The request carries the documented ``X-Gitlab-Event`` and a body shaped like the
    documented example ``name``; returns the body for value checks."""
    fixture = hook_fixture(name)
    assert received.event == fixture["_header"], (name, received.event)
    problems = shape_problems(received.body, fixture, set(fixture.get("_nullable", [])))
    assert not problems, f"{name}: {problems}"
    return received.body  # type: ignore[no-any-return]


@dataclass
class Hub:
    """A world with its hooks, deliveries and changes, and one receiver standing for every
    hook (a path per hook): what the hook tests drive. No HTTP server for the API is needed
    to change the world; the control endpoints have their own test."""

    world: World
    hooks: HookRegistry
    delivery: Delivery
    changes: Changes
    receiver: Receiver

    def system_hook(self, token: str | None = None, at: str = "/system", **toggles: bool) -> Hook:
        """A system hook whose requests arrive at the receiver's path ``at``."""
        return self.hooks.add("system", self.receiver.url(at), token=token, events=toggles)

    def group_hook(self, group_path: str, at: str | None = None, **toggles: bool) -> Hook:
        """A webhook of the group ``group_path``, arriving at ``/group/<path>`` by default."""
        group = self.world.group_by_full_path[group_path]
        url = self.receiver.url(at or f"/group/{group_path}")
        return self.hooks.add("group", url, group_id=group.id, events=toggles)

    def project_hook(self, project_path: str, at: str | None = None, **toggles: bool) -> Hook:
        """A webhook of the project ``project_path``, at ``/project/<path>`` by default."""
        project = self.world.project_by_full_path[project_path]
        url = self.receiver.url(at or f"/project/{project_path}")
        return self.hooks.add("project", url, project_id=project.id, events=toggles)

    def sent(self) -> list[Received]:
        """Everything received so far, once every queued delivery has gone out."""
        self.delivery.flush(10)
        return list(self.receiver.received)

    def take(self) -> list[Received]:
        """Like ``sent``, then forget it: the next ``take`` sees only what came after."""
        received = self.sent()
        self.receiver.clear()
        return received

    def user(self, username: str) -> User:
        return self.world.user_by_username[username]

    def group(self, full_path: str) -> Group:
        return self.world.group_by_full_path[full_path]

    def project(self, full_path: str) -> Project:
        return self.world.project_by_full_path[full_path]

    @classmethod
    def start(cls, world: World) -> Hub:
        world.instance_url = "http://127.0.0.1:8090"
        hooks, delivery = HookRegistry(), Delivery()
        receiver = Receiver().start()
        return cls(world, hooks, delivery, Changes(world, hooks, delivery), receiver)

    def stop(self) -> None:
        self.delivery.close()
        self.receiver.stop()


def assert_gitlab_headers(received: Received, instance_url: str, token: str | None = None) -> None:
    """The delivery headers of doc/user/project/integrations/webhooks.md "Delivery headers"
    (and Content-Type, which WebHookService sets), with the secret only when there is one."""
    headers = received.headers
    assert headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"GitLab/\d+\.\d+\.\d+", headers["User-Agent"])
    for name in ("Idempotency-Key", "X-Gitlab-Webhook-UUID", "X-Gitlab-Event-UUID"):
        assert UUID_RE.match(headers[name]), (name, headers.get(name))
    assert headers["X-Gitlab-Instance"] == instance_url
    assert headers["X-Gitlab-Event"]
    if token is None:
        assert "X-Gitlab-Token" not in headers
    else:
        assert headers["X-Gitlab-Token"] == token


def only(received: list[Received], path: str, event_name: str | None = None) -> Received:
    """The one request to ``path`` (with that event name): fails if there are none or more."""
    found = [
        r for r in received if r.path == path and (event_name is None or r.event_name == event_name)
    ]
    assert len(found) == 1, [(r.path, r.event_name) for r in received]
    return found[0]


def names(received: list[Received], path: str | None = None) -> list[str]:
    """The event names received (at ``path``), in arrival order."""
    return [r.event_name for r in received if path is None or r.path == path]
