"""Asset rules are globs any README may hold. A regular expression made from a glob with
many ``**`` backtracked exponentially: 18 s of worker CPU for one project. The matcher now
never backtracks, rules are bounded in number and length, and it matches what SharingHub's
``PurePath.match`` matches."""

from __future__ import annotations

import string
import time
from collections.abc import Callable
from pathlib import PurePosixPath

import pytest
from hostile_stack import HostileStack, catalogued_projects, push_readme, warnings_of, with_worker
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.errors import Invalid
from indexer.stac.globs import compile_glob

pytestmark = pytest.mark.services
SEGMENT = st.text(alphabet="ab*?.", min_size=1, max_size=5)
NAME = st.text(alphabet="ab.", min_size=1, max_size=6)


@given(st.lists(SEGMENT, min_size=1, max_size=3), st.lists(NAME, min_size=1, max_size=4))
@settings(max_examples=400, deadline=None)
def test_without_double_stars_it_matches_as_purepath_does(
    segments: list[str], parts: list[str]
) -> None:
    pattern, path = "/".join(segments), "/".join(parts)
    if not PurePosixPath(pattern).parts or "**" in segments:
        return  # PurePath refuses an empty pattern (as compile_glob does); ** is labstac's
    assert compile_glob(pattern, 256).matches(path) == PurePosixPath(path).match(pattern)


def test_double_stars_match_any_number_of_segments() -> None:
    glob = compile_glob("data/**/*.tif", 256)
    assert glob.matches("data/a.tif") and glob.matches("data/x/y/a.tif")
    assert not glob.matches("other/data/a.tif") and not glob.matches("data/a.tiff")
    assert compile_glob("**/preview.png", 256).matches("preview.png")
    assert compile_glob("**", 256).matches("any/thing")
    assert compile_glob("[!.]*.md", 256).matches("README.md")
    assert not compile_glob("[!.]*.md", 256).matches(".hidden.md")


def test_hostile_patterns_cost_microseconds_not_seconds() -> None:
    path = "/".join(["a"] * 40) + "/" + "a" * 200
    patterns = (
        "/".join(["**", "*"] * 4) + "/b",
        "*a" * 120 + "b",
        "**/" + "*a*a*a*a*a*a*a*b/" * 10,
        "**/" + "*/" * 60 + "**/x",
    )
    for pattern in patterns:
        glob = compile_glob(pattern, 4096)
        started = time.perf_counter()
        assert not glob.matches(path)
        assert time.perf_counter() - started < 0.5, pattern
    with pytest.raises(Invalid, match="more than 4"):
        compile_glob("/".join(["**"] * 60) + "/b", 4096)


def test_malformed_or_long_globs_are_refused() -> None:
    for pattern in ("", "/", "./.", "x" * 300, "[\x00-\U0010ffff]"):
        with pytest.raises(Invalid):
            compile_glob(pattern, 256)


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    return with_worker(make_stack())


def test_a_readme_with_hostile_rules_is_indexed_quickly(stack: HostileStack) -> None:
    project = catalogued_projects(stack.world)[0]
    files = {f"d{n % 20}/{'a' * 30}{n}.{string.ascii_lowercase[n % 26]}": "x" for n in range(1500)}
    rules = [
        "/".join(["**"] * 50) + "/*.tif",
        "*a" * 60 + "b",
        "d1/*",
        *(f"r{n}/*.x" for n in range(150)),  # more rules than a project may have
    ]
    readme = "---\nassets:\n" + "".join(f"  - {r!r}\n" for r in rules) + "---\n# Rules\n"
    started = time.monotonic()
    push_readme(stack, project, readme, **files)
    item = stack.wait_for_item(project, lambda i: bool(warnings_of(i)), timeout=120)
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"indexing took {elapsed:.1f} s"
    assert any("more than 100 asset rules" in w for w in warnings_of(item))
    matched = [key for key in item["assets"] if key.startswith("d1/")]
    assert len(matched) == 75
    assert all(worker.process.poll() is None for worker in stack.workers)
