"""Tokens: what is not a GitLab token is refused without asking GitLab (a non-ASCII bearer
was a 500 with the token in a traceback), unknown tokens cost GitLab one call each at most
and a bounded number per client address, a token goes to no host but GitLab's, and an
admin's token reads exactly what GitLab lets it read, whatever its scopes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from hostile_stack import HostileStack, assert_refused

from gitlab_sim.permissions import Caller, Oracle
from gitlab_sim.world import Token, World
from indexer.errors import UpstreamUnavailable
from indexer.gitlab.async_client import GitLabHttp
from indexer.stac.categories import DEFAULT_CATEGORIES, categories_of

pytestmark = pytest.mark.services
TOKEN_CHECK = "GET /personal_access_tokens/self"


def add_read_repository_tokens(world: World) -> None:
    admin = next(u for u in world.users if u.is_admin and u.state == "active")
    for offset, scopes in enumerate((["read_repository"], ["read_repository", "admin_mode"])):
        name = "+".join(scopes)
        world.tokens.append(Token(90_000 + offset, f"glpat-hostile-{name}", admin.id, name, scopes))
    world.changed()


@pytest.fixture(scope="module")
def stack(make_stack: Callable[..., HostileStack]) -> HostileStack:
    return make_stack(add_read_repository_tokens, unknown_tokens_per_minute=10)


def token_checks(stack: HostileStack) -> int:
    return int(stack.sim.app.stats.calls[TOKEN_CHECK])


def search(stack: HostileStack, headers: dict[str, str | bytes]) -> httpx.Response:
    return httpx.get(f"{stack.stac}/search", params={"limit": 1}, headers=headers, timeout=30)


def test_what_is_not_a_token_is_refused_without_asking_gitlab(stack: HostileStack) -> None:
    calls = token_checks(stack)
    for headers in (
        {"Authorization": b"Bearer glpat-\xc3\xa9t\xc3\xa9"},  # non-ASCII
        {"PRIVATE-TOKEN": "x" * 5000},
        {"PRIVATE-TOKEN": "has space"},
        {"X-Gitlab-Token": "tab\there"},
    ):
        assert_refused(search(stack, headers), 401, mentions="not a GitLab token")
    assert token_checks(stack) == calls
    log = stack.api.log()
    assert "glpat-\u00c3" not in log and "Traceback" not in log
    stack.assert_api_alive()


def test_a_bad_token_costs_gitlab_one_call_however_often_it_is_sent(stack: HostileStack) -> None:
    calls = token_checks(stack)
    for _ in range(20):
        assert_refused(search(stack, {"PRIVATE-TOKEN": "glpat-not-a-real-token-1"}), 401)
    assert token_checks(stack) == calls + 1


def readable_items(world: World, token: str) -> int:
    oracle = Oracle(world, Caller.with_token(world, world.token_by_value[token]))
    return sum(
        len(categories_of(p.topics, DEFAULT_CATEGORIES))
        for p in world.projects
        if oracle.can_read_repository(p)
    )


def matched(stack: HostileStack, token: str) -> int:
    found = search(stack, {"PRIVATE-TOKEN": token})
    assert found.status_code == 200, found.text
    return int(found.json()["numberMatched"])


def test_an_admins_read_repository_token_reads_what_gitlab_allows(
    stack: HostileStack, make_stack: Callable[..., HostileStack]
) -> None:
    # Admin Mode off: an admin's read_repository token reads every repository.
    token = "glpat-hostile-read_repository"
    assert readable_items(stack.world, token) == matched(stack, stack.token("user1"))
    assert matched(stack, token) == readable_items(stack.world, token)

    def admin_mode_on(world: World) -> None:
        add_read_repository_tokens(world)
        world.admin_mode = True

    on = make_stack(admin_mode_on, labstac_token="admin-mode")
    plain = readable_items(on.world, token)
    everything = readable_items(on.world, "glpat-hostile-read_repository+admin_mode")
    assert plain < everything  # the world tells the two apart
    assert matched(on, token) == plain
    assert matched(on, "glpat-hostile-read_repository+admin_mode") == everything


class _Recorder(BaseHTTPRequestHandler):
    """A server that answers a page of a list; ``next_url`` says where its Link points."""

    next_url = ""
    seen_tokens: list[str] = []  # noqa: RUF012 - set per server class below

    def do_GET(self) -> None:
        self.seen_tokens.append(self.headers.get("Authorization", "").removeprefix("Bearer "))
        body = b"[1]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.next_url:
            self.send_header("Link", f'<{self.next_url}>; rel="next"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def two_hosts() -> Iterator[tuple[str, type[_Recorder], type[_Recorder]]]:
    """A "GitLab" whose next-page link points at another host, and that other host."""
    other = type("Other", (_Recorder,), {"seen_tokens": []})
    gitlab = type("GitLab", (_Recorder,), {"seen_tokens": []})
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for handler in (gitlab, other)]
    gitlab.next_url = f"http://127.0.0.1:{servers[1].server_port}/api/v4/users/1/memberships"
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{servers[0].server_port}", gitlab, other
    for server in servers:
        server.shutdown()


def test_the_admin_token_never_follows_a_link_to_another_host(
    two_hosts: tuple[str, type[_Recorder], type[_Recorder]],
) -> None:
    url, gitlab, other = two_hosts

    async def read_all() -> list[object]:
        http = GitLabHttp(url, 5)
        try:
            return [item async for item in http.get_pages("/users/1/memberships", "admin-secret")]
        finally:
            await http.close()

    with pytest.raises(UpstreamUnavailable, match="another host"):
        asyncio.run(read_all())
    assert gitlab.seen_tokens == ["admin-secret"]
    assert other.seen_tokens == []


# Last: the address stays limited for the rest of the minute.
def test_one_address_sending_unknown_tokens_is_slowed_down(stack: HostileStack) -> None:
    # The count is per minute: all of this must fall within one.
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)
    known = stack.token("user1")
    assert search(stack, {"PRIVATE-TOKEN": known}).status_code == 200  # now cached
    calls = token_checks(stack)
    statuses = [
        search(stack, {"PRIVATE-TOKEN": f"glpat-random-{n:04d}"}).status_code for n in range(40)
    ]
    assert statuses.count(401) <= 10 and statuses[-1] == 429, statuses
    limited = search(stack, {"PRIVATE-TOKEN": "glpat-random-one-more"})
    body = assert_refused(limited, 429, mentions="too many unknown tokens")
    assert 0 < int(limited.headers["Retry-After"]) <= 60, body
    assert token_checks(stack) - calls <= 11  # each refused token once, then none
    # A token already known from the same address still works, and anonymous callers too;
    # a token labstac has not seen yet waits for the minute to end, as an unknown one does.
    assert search(stack, {"PRIVATE-TOKEN": known}).status_code == 200
    assert search(stack, {}).status_code == 200
    metrics = httpx.get(f"{stack.api.url}/metrics").text
    assert "labstac_unknown_tokens_limited_total" in metrics


def test_a_burst_of_unknown_tokens_at_once_is_bounded_too(
    make_stack: Callable[..., HostileStack],
) -> None:
    """Every lookup takes its slot before asking GitLab: fifty requests sent together, each
    with a new token, cannot all pass a check before any of them is counted."""
    stack = make_stack(unknown_tokens_per_minute=5)
    calls = token_checks(stack)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            sent = [
                client.get(f"{stack.stac}/search", headers={"PRIVATE-TOKEN": f"glpat-burst-{n}"})
                for n in range(50)
            ]
            return [response.status_code for response in await asyncio.gather(*sent)]

    statuses = asyncio.run(burst())
    assert statuses.count(401) <= 5 and statuses.count(429) >= 45, statuses
    assert token_checks(stack) - calls <= 5


def test_addresses_count_by_host_and_behind_proxies_by_the_rightmost_untrusted_hop(
    make_stack: Callable[..., HostileStack],
) -> None:
    stack = make_stack(unknown_tokens_per_minute=2)  # 127.0.0.1 is a trusted proxy

    def unknown(chain: list[str], n: int) -> int:
        headers = [("PRIVATE-TOKEN", f"glpat-hop-{n}-{len(chain)}")]
        headers += [("X-Forwarded-For", hop) for hop in chain]  # one line per hop
        return httpx.get(f"{stack.stac}/search", headers=headers).status_code

    # The client wrote the first line; the nearest proxy added the second: the second counts.
    assert [unknown(["6.6.6.6", "203.0.113.9"], n) for n in range(3)] == [401, 401, 429]
    assert unknown(["7.7.7.7", "203.0.113.10"], 9) == 401  # another client, its own count
    # Addresses of one IPv6 /64 count together.
    assert [unknown([f"2001:db8::{n}"], n) for n in range(1, 4)] == [401, 401, 429]
    assert unknown(["2001:db8:0:1::1"], 9) == 401
