"""The fixtures are GitLab's documented examples, one per event, each used by a test; and the
comparison with them catches what it must (so that the hook tests can fail)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hooktest import FIXTURES, hook_fixture, shape_problems

PAGES = (
    "doc/administration/system_hooks.md",
    "doc/user/project/integrations/webhook_events.md",
)
HEADERS = {
    "system_hook": "System Hook",
    "push_hook": "Push Hook",
    "tag_push_hook": "Tag Push Hook",
    "release_hook": "Release Hook",
    "member_hook": "Member Hook",
    "project_hook": "Project Hook",
    "subgroup_hook": "Subgroup Hook",
}
NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))


def test_there_is_one_fixture_per_event_and_hook_type() -> None:
    assert len(NAMES) == 30
    for name in NAMES:
        event = name.split(".", 1)[1]
        payload = hook_fixture(name)
        assert event in (payload.get("event_name"), payload.get("object_kind")), name


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_names_its_page_and_header(name: str) -> None:
    payload = hook_fixture(name)
    assert payload["_source"].startswith(PAGES), name
    assert '"' in payload["_source"]  # the section
    assert payload["_header"] == HEADERS[name.split(".", maxsplit=1)[0]]
    assert set(payload.get("_nullable", [])) <= set(payload)


def test_every_fixture_is_checked_by_a_hook_test() -> None:
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_hooks_*.py"))
    unused = [name for name in NAMES if f'"{name}"' not in tests]
    assert not unused


def test_the_comparison_catches_differences() -> None:
    doc = hook_fixture("push_hook.push")
    nullable = set(doc["_nullable"])
    payload = {k: v for k, v in doc.items() if not k.startswith("_")}
    assert shape_problems(payload, doc, nullable) == []

    def problems_after(edit: Callable[[dict[str, Any]], object]) -> list[str]:
        changed = copy.deepcopy(payload)
        edit(changed)
        return shape_problems(changed, doc, nullable)

    assert problems_after(lambda p: p.pop("ref_protected")) == ["$.ref_protected: missing"]
    assert problems_after(lambda p: p.update(extra=1)) == ["$.extra: not in the docs"]
    assert problems_after(lambda p: p.update(user_id="4")) == [
        "$.user_id: int in the docs, str here"
    ]
    assert problems_after(lambda p: p.update(ref_protected=1)) == [
        "$.ref_protected: bool in the docs, int here"
    ]
    assert problems_after(lambda p: p["project"].update(visibility_level=None)) == [
        "$.project.visibility_level: null here"
    ]
    assert problems_after(lambda p: p.update(checkout_sha=None)) == []  # documented nullable
    assert problems_after(lambda p: p["project"].update(avatar_url="")) == [
        "$.project.avatar_url: null in the docs, str here"
    ]
    assert problems_after(lambda p: p["commits"][1]["author"].pop("email")) == [
        "$.commits[].author.email: missing"
    ]
    assert problems_after(lambda p: p.update(commits={})) == [
        "$.commits: array in the docs, dict here"
    ]
    assert problems_after(lambda p: p.update(commits=[])) == []
