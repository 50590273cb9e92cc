"""Who is calling: the GitLab token of a request (``Authorization: Bearer``, ``PRIVATE-TOKEN``
or ``X-Gitlab-Token``), resolved to a principal through the cache and GitLab. No token is
anonymous; a refused token is 401; GitLab unreachable is 503, never silently anonymous."""

from __future__ import annotations

import re

from starlette.requests import Request

from indexer.access.cache import CachedPrincipals
from indexer.access.callers import Principal
from indexer.errors import TooManyRequests, Unauthorized

# GitLab's tokens (personal, project, group, OAuth) are short runs of printable ASCII. Any
# other value is refused here: it would never be a token, and must not reach GitLab's
# headers (httpx refuses non-ASCII) or a log.
_TOKEN = re.compile(r"^[\x21-\x7e]{1,1024}$")


def token_of(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    token = None
    if scheme.lower() == "bearer" and value.strip():
        token = value.strip()
    else:
        for header in ("private-token", "x-gitlab-token"):
            if request.headers.get(header, "").strip():
                token = request.headers[header].strip()
                break
    if token is not None and not _TOKEN.match(token):
        raise Unauthorized("the token is not a GitLab token")
    return token


async def principal_of(request: Request) -> Principal:
    cached: Principal | None = request.scope.setdefault("state", {}).get("principal")
    if cached is not None:
        return cached
    principals: CachedPrincipals = request.app.state.principals
    client = request.client.host if request.client else "unknown"
    try:
        principal = await principals.principal(token_of(request), client=client)
    except TooManyRequests:
        request.app.state.metrics.tokens_limited.inc()
        raise
    request.scope["state"]["principal"] = principal
    return principal
