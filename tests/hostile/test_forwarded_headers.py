"""Links are built from the address a request arrives at, and clients follow them with their
token (a ``next`` link above all). ``X-Forwarded-Host`` and ``-Proto`` were believed from
anyone, so any request could make them point anywhere, and the API page rendered a
``javascript:`` link. Now only configured proxies are believed, and only for http(s) and
host names; ``LABSTAC_PUBLIC_URL`` settles it outright."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hostile_stack import HostileStack

pytestmark = pytest.mark.services
EVIL = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}


def hrefs(document: dict[str, Any]) -> list[str]:
    return [link["href"] for link in document["links"]]


def landing(stack: HostileStack, headers: dict[str, str]) -> dict[str, Any]:
    found = httpx.get(f"{stack.stac}", headers=headers)
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    make_stack: Callable[..., HostileStack],
) -> None:
    stack = make_stack(forwarded_allow_ips="10.9.8.7")  # tests connect from 127.0.0.1
    links = hrefs(landing(stack, EVIL))
    assert all(href.startswith(f"{stack.api.url}/") or href == stack.stac for href in links)
    page = httpx.get(f"{stack.stac}/search", params={"limit": 1}, headers=EVIL).json()
    assert not any("evil" in href for href in hrefs(page))
    html = httpx.get(f"{stack.stac}/api.html", headers={"X-Forwarded-Proto": "javascript"})
    assert "javascript" not in html.text
    assert "default-src 'none'" in html.headers["Content-Security-Policy"]


def test_a_trusted_proxy_is_believed_within_reason(
    make_stack: Callable[..., HostileStack],
) -> None:
    stack = make_stack()  # the default trusts 127.0.0.1 and ::1
    assert hrefs(landing(stack, EVIL))[0] == "https://evil.example/api/v1/stac"
    for headers in (
        {"X-Forwarded-Proto": "javascript"},
        {"X-Forwarded-Host": 'a b"<script>'},
        {"X-Forwarded-Host": "evil.example/path?x"},
    ):
        self_link = hrefs(landing(stack, headers))[0]
        assert self_link == stack.stac, (headers, self_link)
    html = httpx.get(f"{stack.stac}/api.html", headers={"X-Forwarded-Proto": "javascript"})
    assert "javascript" not in html.text and "href='api'" in html.text
    # A Host header that is no host name is not copied into links either.
    weird = httpx.get(stack.stac, headers={"Host": 'x"><img src=y>'})
    assert weird.status_code in (200, 400)
    if weird.status_code == 200:
        assert all("<img" not in href for href in hrefs(weird.json()))


def test_the_public_url_wins_over_everything(make_stack: Callable[..., HostileStack]) -> None:
    stack = make_stack(public_url="https://stac.example.org/base")
    expected = "https://stac.example.org/base/api/v1/stac"
    assert hrefs(landing(stack, EVIL))[0] == expected
    assert hrefs(landing(stack, {}))[0] == expected
