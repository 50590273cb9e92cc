"""README front matter is YAML any GitLab user writes. Aliases used to expand 393 bytes
into a 63 MB item ("billion laughs"); nesting, sizes and YAML's own types are bounded and
refused now, each with a warning in the item, and the item is still indexed."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from hostile_stack import (
    HostileStack,
    catalogued_projects,
    group_rss_kib,
    push_readme,
    warnings_of,
    with_worker,
)

pytestmark = pytest.mark.services

LAUGHS = """---
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
---
# Laughs
"""


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    return with_worker(make_stack())


def test_aliases_are_refused_not_expanded(stack: HostileStack) -> None:
    project = catalogued_projects(stack.world)[0]
    push_readme(stack, project, LAUGHS)
    item = stack.wait_for_item(project, lambda i: bool(warnings_of(i)))
    assert any("anchors and aliases are not allowed" in w for w in warnings_of(item))
    assert "g" not in item["properties"]
    found = httpx.get(
        f"{stack.stac}/search", params={"ids": item["id"]},
        headers={"PRIVATE-TOKEN": stack.token("user1")},
    )  # fmt: skip
    assert len(found.content) < 100_000
    assert group_rss_kib(stack.workers[0].process.pid) < 600 * 1024


def test_nesting_size_and_types_are_bounded(stack: HostileStack) -> None:
    deep, big, types = catalogued_projects(stack.world)[1:4]
    push_readme(stack, deep, "---\na: " + "[" * 5000 + "]" * 5000 + "\n---\n# Deep\n")
    push_readme(stack, big, "---\n" + "".join(f"k{n}: {'x' * 60}\n" for n in range(2000))
                + "---\n# Big\n")  # fmt: skip
    push_readme(
        stack, types,
        "---\nbinary: !!binary aGVsbG8=\nset: !!set {a, b}\nhuge: " + "9" * 40
        + "\nwhen: 2024-05-01\nnot_a_number: .nan\nkept: yes\n---\n# Types\n",
    )  # fmt: skip
    deep_item = stack.wait_for_item(deep, lambda i: bool(warnings_of(i)))
    assert any("nested deeper than 16 levels" in w for w in warnings_of(deep_item))
    big_item = stack.wait_for_item(big, lambda i: bool(warnings_of(i)))
    assert any("larger than 65536 bytes" in w for w in warnings_of(big_item))
    assert "k1" not in big_item["properties"]
    typed = stack.wait_for_item(types, lambda i: "huge" in i["properties"])
    properties = typed["properties"]
    assert properties["huge"] == "9" * 40  # beyond 64 bits: kept as text
    assert properties["when"] == "2024-05-01"
    assert properties["kept"] is True
    assert "binary" not in properties and "set" not in properties
    assert "not_a_number" not in properties
    assert len(warnings_of(typed)) == 3, warnings_of(typed)
    assert stack.workers[0].process.poll() is None


def test_values_no_rule_foresaw_cost_the_readme_never_the_item(stack: HostileStack) -> None:
    odd, roles = catalogued_projects(stack.world)[4:6]
    push_readme(
        stack, roles,
        "---\nproviders: [{name: x, roles: 5}]\nassets: [{glob: '*.md', roles: [{a: 1}]}]\n---\n",
    )  # fmt: skip
    push_readme(stack, odd, "---\na: !!int 0b" + "1" * 20_000 + "\nb: kept\n---\n# Odd\n")
    with_roles = stack.wait_for_item(roles, lambda i: len(warnings_of(i)) >= 2)
    assert any("roles must be a list of words" in w for w in warnings_of(with_roles))
    odd_item = stack.wait_for_item(odd, lambda i: i["properties"].get("b") == "kept")
    assert "a" not in odd_item["properties"]
    assert any("JSON cannot hold" in w for w in warnings_of(odd_item))
    assert all(worker.process.poll() is None for worker in stack.workers)
