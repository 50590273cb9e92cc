"""Property-based fuzzing of the live API from its own OpenAPI document: every operation,
every declared parameter (and a few undeclared ones), with values drawn to hurt: deep
nesting of every bracket, huge and odd numbers, text that is not valid Unicode once
decoded, control characters, sizes near and past every limit. Whatever is sent: no answer
of 500 or more, a JSON reason with every refusal, and the process alive throughout.

schemathesis checks the document's own shapes (tests/api/test_stac_api_validator.py);
this test checks what the document does not promise to refuse."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hostile_stack import HostileStack, rss_kib
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    return make_stack()


@pytest.fixture(scope="module")
def document(stack: HostileStack) -> dict[str, Any]:
    found = httpx.get(f"{stack.stac}/api")
    assert found.status_code == 200
    spec: dict[str, Any] = found.json()
    return spec


def nested(opening: str, closing: str) -> st.SearchStrategy[str]:
    return st.integers(1, 20_000).map(lambda n: opening * n + closing * (n // 2))


ODD_TEXT = st.sampled_from([
    "²", "\u0000", "\r\nX-Injected: 1", "\x1b[2J", "%00", "..", "../../etc/passwd", "é" * 3,
    "\\ud800", '"\\ud800"', "NaN", "Infinity", "-0", "1e400", "9" * 5000, "0x10", "  ",
    "true", "null", "[]", "{}", ",,,,", "+-+-", "'", "''", "%", "_" * 500, "*" * 500,
    "javascript:alert(1)", "<script>", "@@@", "/", "//", "\t",
])  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=40),
    ODD_TEXT,
    nested("(", ")"),
    nested("[", "]"),
    nested("{", "}"),
    st.integers(1, 9000).map(lambda n: "a" * n),
    st.integers(1, 500).map(lambda n: ",".join(["x"] * n)),
    st.integers(1, 400).map(lambda n: "NOT " * n + "id = 'a'"),
)
JSON_VALUE = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False), TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)  # fmt: skip
DEEP_JSON = st.integers(30, 5000).map(lambda n: "[" * n + "]" * n)


def operations(spec: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    found = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            found.append((method.upper(), path, names))
    return found


def check(stack: HostileStack, response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.url, response.text[:300])
    if response.status_code >= 400 and response.status_code != 405:
        body = response.json()
        assert set(body) >= {"code", "description"}, body


@given(data=st.data())
@seed(20261129)
@settings(
    max_examples=800, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip
def test_no_input_gets_a_server_error(
    stack: HostileStack, document: dict[str, Any], data: st.DataObject
) -> None:
    method, path, names = data.draw(st.sampled_from(operations(document)))
    concrete = path
    for name in ("collection_id", "item_id"):
        concrete = concrete.replace(
            "{" + name + "}", data.draw(st.one_of(st.sampled_from(["dataset", "ai-model"]), TEXT))
        )
    url = f"{stack.stac}{concrete}" if path != "/" else stack.stac
    if len(url) > 6000:
        url = url[:6000]
    headers = data.draw(st.sampled_from([
        {}, {"PRIVATE-TOKEN": stack.token("user1")}, {"Authorization": "Bearer \u00e9\u00e9"},
        {"Authorization": "Bearer " + "x" * 3000}, {"X-Gitlab-Token": "glpat-nobody"},
    ]))  # fmt: skip
    raw_headers = {k: v.encode("latin-1", "replace") for k, v in headers.items()}
    if method == "GET":
        chosen = data.draw(st.lists(st.sampled_from([*names, "unknown"]), max_size=4))
        params = {name: data.draw(TEXT) for name in chosen}
        params = {k: v[:3000] for k, v in params.items()}
        try:
            response = httpx.get(url, params=params, headers=raw_headers, timeout=30)
        except httpx.InvalidURL:
            return  # the client would not send it either
    else:
        kind = data.draw(st.sampled_from(["object", "deep", "raw"]))
        if kind == "object":
            keys = data.draw(st.lists(st.sampled_from([*PARAMETER_NAMES, "unknown"]), max_size=4))
            body = json.dumps({key: data.draw(JSON_VALUE) for key in keys}).encode()
        elif kind == "deep":
            body = ('{"filter": ' + data.draw(DEEP_JSON) + "}").encode()
        else:
            body = data.draw(TEXT).encode("utf-8", "surrogatepass")
        response = httpx.post(url, content=body, headers=raw_headers, timeout=30)
    check(stack, response)
    assert stack.api.process.poll() is None, stack.api.log()[-3000:]


PARAMETER_NAMES = [
    "bbox", "intersects", "datetime", "ids", "collections", "limit", "token", "sortby",
    "fields", "q", "filter", "filter-lang", "filter-crs", "query",
]  # fmt: skip


def test_the_api_is_alive_and_lean_after_the_fuzzing(stack: HostileStack) -> None:
    stack.assert_api_alive()
    memory = rss_kib(stack.api.process.pid, "VmHWM")
    assert memory < 400 * 1024, f"the API peaked at {memory} KiB"
    assert "Traceback" not in stack.api.log()
