"""Request bodies: bounded before they are read (a 200 MB ``POST /search`` once took 700 MB
of the API's memory), refused with 413 when too large however they are sent, and 400 when
they are not the JSON they claim to be."""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from hostile_stack import SECRET, HostileStack, assert_refused, rss_kib

pytestmark = pytest.mark.services
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    return make_stack()


def raw_post(url: str, path: str, headers: dict[str, str], chunks: int, chunk: bytes) -> bytes:
    """POST ``chunks`` x ``chunk`` bytes over a plain socket, as fast as the server takes
    them, and return what it answers (it may answer, and close, before the body ends)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        try:
            for _ in range(chunks):
                if headers.get("Transfer-Encoding") == "chunked":
                    sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                else:
                    sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what matters is what it said
        sock.settimeout(30)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
        return answer


def test_a_huge_search_body_is_413_and_never_held(stack: HostileStack) -> None:
    pid = stack.api.process.pid
    before = rss_kib(pid)
    chunk = b" " * MIB
    # 200 MB, declared: refused on the header, before a byte of it is read.
    declared = raw_post(
        stack.api.url, "/api/v1/stac/search",
        {"Content-Type": "application/json", "Content-Length": str(200 * MIB)}, 200, chunk,
    )  # fmt: skip
    assert declared.startswith(b"HTTP/1.1 413"), declared[:200]
    # 200 MB, chunked (no length said): cut off at the limit.
    chunked = raw_post(
        stack.api.url, "/api/v1/stac/search",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, 200, chunk,
    )  # fmt: skip
    assert chunked.startswith(b"HTTP/1.1 413"), chunked[:200]
    stack.assert_api_alive()
    grown = rss_kib(pid) - before
    assert grown < 64 * 1024, f"the API grew by {grown} KiB"


def test_a_body_at_the_limit_is_read_and_one_past_it_is_not(stack: HostileStack) -> None:
    padding = b" " * (MIB - 20)
    fits = httpx.post(f"{stack.stac}/search", content=b'{"limit": 1}' + padding, timeout=30)
    assert fits.status_code == 200, fits.text
    assert_refused(
        httpx.post(f"{stack.stac}/search", content=b'{"limit": 1}' + padding + b" " * 100),
        413,
        mentions="limited to 1048576 bytes",
    )


def test_bodies_that_are_not_json_objects_are_400(stack: HostileStack) -> None:
    url = f"{stack.stac}/search"
    assert_refused(httpx.post(url, content=b"{not json"), mentions="not valid JSON")
    assert_refused(httpx.post(url, content=b"[1, 2]"), mentions="JSON object")
    assert_refused(httpx.post(url, content=b'{"q": "\\ud800"}'), mentions="not valid JSON")
    assert_refused(httpx.post(url, content=b'{"limit": 1e400}'), mentions="not valid JSON")
    assert_refused(httpx.post(url, content=b'{"limit": NaN}'), mentions="not valid JSON")
    assert_refused(httpx.post(url, content=b"\xff\xfe{}"), mentions="not valid JSON")
    for limit in ("1e400", "9" * 5000, "²", "1.5", True, -3, 0):
        response = httpx.post(url, json={"limit": limit})
        assert_refused(response, mentions="limit")


def test_hook_bodies_are_bounded_and_checked(stack: HostileStack) -> None:
    url = f"{stack.api.url}/hooks/gitlab"
    headers = {"X-Gitlab-Token": SECRET, "Content-Type": "application/json"}
    big = raw_post(
        stack.api.url, "/hooks/gitlab",
        {**headers, "Content-Length": str(50 * MIB)}, 50, b" " * MIB,
    )  # fmt: skip
    assert big.startswith(b"HTTP/1.1 413"), big[:200]
    base = {"event_name": "project_update"}
    for project_id in ("²", "9" * 5000, -1, "1e3", True, None, [1], {"a": 1}):
        assert_refused(
            httpx.post(url, json={**base, "project_id": project_id}, headers=headers),
            mentions="integer id",
        )
    assert_refused(httpx.post(url, content=b"{}" * 10, headers=headers), mentions="JSON")
    stack.assert_api_alive()
