"""Who is calling: the GitLab token of a request (``Authorization: Bearer``, ``PRIVATE-TOKEN``
or ``X-Gitlab-Token``), resolved to a principal through the cache and GitLab. No token is
anonymous; a refused token is 401; GitLab unreachable is 503, never silently anonymous."""

from __future__ import annotations

from starlette.requests import Request

from indexer.access.cache import CachedPrincipals
from indexer.access.callers import Principal


def token_of(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for header in ("private-token", "x-gitlab-token"):
        if request.headers.get(header, "").strip():
            return request.headers[header].strip()
    return None


async def principal_of(request: Request) -> Principal:
    cached: Principal | None = request.scope.setdefault("state", {}).get("principal")
    if cached is not None:
        return cached
    principals: CachedPrincipals = request.app.state.principals
    principal = await principals.principal(token_of(request))
    request.scope["state"]["principal"] = principal
    return principal
