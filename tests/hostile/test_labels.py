"""Metric labels come from fixed sets. h11 accepts any token as an HTTP method, and each
became a label: 300 requests grew /metrics to 20 MB; hook event names did the same. And
/metrics told anonymous callers how many documents exist, some of which they may not see."""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from hostile_stack import SECRET, HostileStack, assert_refused

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    return make_stack()


def send_method(url: str, method: str) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"{method} /api/v1/stac/ HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return sock.recv(1024)


def series(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{name}{{")]


def test_methods_and_event_names_never_become_new_labels(stack: HostileStack) -> None:
    for _ in range(300):
        answer = send_method(stack.api.url, f"X{secrets.token_hex(6).upper()}")
        assert answer.startswith(b"HTTP/1.1 405"), answer[:100]
    for n in range(300):
        hook = httpx.post(
            f"{stack.api.url}/hooks/gitlab", json={"event_name": f"made_up_{n}", "project_id": 1},
            headers={"X-Gitlab-Token": SECRET},
        )  # fmt: skip
        assert hook.status_code == 202
    metrics = httpx.get(f"{stack.api.url}/metrics").text
    assert len(metrics) < 200_000, len(metrics)
    methods = {
        re.search(r'method="([^"]*)"', s).group(1)
        for s in series(metrics, "labstac_http_requests_total")
    }  # type: ignore[union-attr]
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    assert "other" in methods
    events = {
        re.search(r'event="([^"]*)"', s).group(1) for s in series(metrics, "labstac_hooks_total")
    }  # type: ignore[union-attr]
    assert events <= {"other", "unknown", "push", "project_update"}, events
    assert "other" in events
    stack.assert_api_alive()


def test_anonymous_metrics_leave_out_the_index_size(stack: HostileStack) -> None:
    assert "labstac_index_documents" not in httpx.get(f"{stack.api.url}/metrics").text


def test_with_a_metrics_token_metrics_are_for_its_holder(
    make_stack: Callable[..., HostileStack],
) -> None:
    guarded = make_stack(metrics_token="metrics-secret-0123456789")
    assert_refused(httpx.get(f"{guarded.api.url}/metrics"), 401)
    assert_refused(
        httpx.get(f"{guarded.api.url}/metrics", headers={"Authorization": "Bearer wrong"}), 401
    )
    full = httpx.get(
        f"{guarded.api.url}/metrics",
        headers={"Authorization": "Bearer metrics-secret-0123456789"},
    )
    assert full.status_code == 200
    assert re.search(r"^labstac_index_documents [1-9]", full.text, re.M), full.text[-500:]
