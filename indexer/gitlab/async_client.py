"""An async client for the few GitLab REST calls made while answering a request (who is
this token, what are this user's memberships). Retries what GitLab asks to retry (429 with
``Retry-After``, 502/503/504) a bounded number of times, and translates failures into
``indexer.errors``. Tokens travel in headers only, never in a URL, and are never logged."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from indexer.errors import Invalid, NotFound, Unauthorized, UpstreamUnavailable

log = logging.getLogger(__name__)

SERVICE = "gitlab"
RETRYABLE = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS = 4
MAX_WAIT_SECONDS = 10.0


class GitLabHttp:
    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        *,
        attempts: int = MAX_ATTEMPTS,
        observe: Callable[[int, float], None] | None = None,
    ):
        self._client = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/api/v4",
            timeout=timeout_seconds,
            headers={"User-Agent": "labstac"},
        )
        self._base = base_url.rstrip("/")
        self._origin = httpx.URL(base_url).copy_with(path="/", query=None, fragment=None)
        self._attempts = attempts
        self._observe = observe  # (status or 0 for no answer, seconds) of every call
        self.calls = 0  # GitLab calls made, for metrics and tests

    async def close(self) -> None:
        await self._client.aclose()

    async def get(self, path: str, token: str, params: dict[str, Any] | None = None) -> Any:
        response = await self._request(path, token, params)
        return response.json()

    async def oauth_token_info(self, token: str) -> Any:
        """``/oauth/token/info``: an OAuth access token's owner and scopes (doc/api/oauth2.md);
        ``Unauthorized`` for anything else."""
        return await self.get(f"{self._base}/oauth/token/info", token)

    async def get_pages(
        self, path: str, token: str, params: dict[str, Any] | None = None
    ) -> AsyncIterator[Any]:
        """Every item of a paged list, following ``Link: rel="next"`` as GitLab asks."""
        response = await self._request(path, token, {"per_page": 100, **(params or {})})
        while True:
            for item in response.json():
                yield item
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            # The token goes with the request: only ever to the GitLab labstac is set up for.
            if httpx.URL(following).copy_with(path="/", query=None, fragment=None) != self._origin:
                raise UpstreamUnavailable(SERVICE, "GitLab sent a next page on another host")
            response = await self._request(following, token, None)

    async def _request(
        self, path: str, token: str, params: dict[str, Any] | None
    ) -> httpx.Response:
        for attempt in range(1, self._attempts + 1):
            self.calls += 1
            started = time.perf_counter()
            try:
                # Bearer: GitLab takes personal and OAuth access tokens this way (an OAuth
                # token in PRIVATE-TOKEN is refused).
                response = await self._client.get(
                    path, params=params, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TransportError as error:
                self._seen(0, started)
                if not isinstance(error, httpx.TimeoutException):
                    raise UpstreamUnavailable(SERVICE, "not reachable") from error
                if attempt == self._attempts:
                    raise UpstreamUnavailable(SERVICE, "timed out") from error
                await asyncio.sleep(_backoff(attempt))
                continue
            self._seen(response.status_code, started)
            if response.status_code in RETRYABLE and attempt < self._attempts:
                await asyncio.sleep(_wait(response, attempt))
                continue
            return _checked(response)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _seen(self, status: int, started: float) -> None:
        if self._observe is not None:
            self._observe(status, time.perf_counter() - started)


def _backoff(attempt: int) -> float:
    jitter = 0.5 + random.random() / 2  # noqa: S311 - jitter, not secrecy
    return float(min(MAX_WAIT_SECONDS, 0.2 * 2**attempt) * jitter)


def _wait(response: httpx.Response, attempt: int) -> float:
    retry_after = response.headers.get("Retry-After", "")
    if retry_after.isdigit():
        return min(MAX_WAIT_SECONDS, float(retry_after))
    return _backoff(attempt)


def _checked(response: httpx.Response) -> httpx.Response:
    status = response.status_code
    if status < 400:
        return response
    if status == 400:
        raise Invalid(f"GitLab refused the request to {response.request.url.path} (400)")
    if status == 401:
        raise Unauthorized("the GitLab token is unknown, expired or revoked")
    if status == 404:
        raise NotFound(f"GitLab has no {response.request.url.path}")
    if status == 403:
        raise Unauthorized("the GitLab token may not do this")
    raise UpstreamUnavailable(SERVICE, f"answered {status}")
