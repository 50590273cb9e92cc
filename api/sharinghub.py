"""What MLflow SharingHub asks SharingHub, answered by labstac: may this caller use this
project's experiments, and as what? (csgroup-oss/mlflow-sharinghub, ``clients/sharinghub.py``
and ``permissions.py``; SharingHub's ``/api/check`` route and ``/api/auth/info``.)

    GET {base}/api/check/{project id or path}?info=true
        200 {"id", "name", "path", "access_level", "categories"} (no body without info)
        404 the caller cannot read the project (whatever the reason), 401 a refused token
    GET {base}/api/auth/info
        200 for a signed-in caller (the plugin's "is authenticated" probe), 401 otherwise

Answered from the index and the caller's cached memberships, never from GitLab: one search,
under the same access filter as every STAC search, so the probe and the catalog agree on
what a caller sees. Unlike SharingHub, the auth probe never echoes the caller's token.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import access_of, principal_of
from api.json_response import JSONResponse
from api.stac_params import refuse_unknown
from indexer.access.levels import sharinghub_level
from indexer.errors import Invalid, NotFound, Unauthorized
from indexer.search.request import project_body

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}
MAX_TARGET = 1024  # a GitLab path is at most a few hundred characters


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise Invalid(f"{name} must be true or false")


async def check(request: Request) -> Response:
    refuse_unknown(dict(request.query_params), ("info",))
    target = request.path_params["project"].strip("/")
    if not target or len(target) > MAX_TARGET:
        raise Invalid("name a project by its id or its full path")
    info = _flag(request, "info")
    body = project_body(target, await access_of(request))
    result = await request.app.state.engine.search(request.app.state.read_alias, body)
    hits = [hit.get("_source") or {} for hit in result["hits"]["hits"]]
    if not hits:
        raise NotFound(f"no project {target[:200]}")
    if not info:
        return Response(status_code=200)
    first: dict[str, Any] = hits[0]
    labstac = first.get("labstac") or {}
    return JSONResponse(
        {
            "id": labstac.get("project_id", first["_acl"].get("project_id")),
            "name": labstac.get("name") or (first.get("properties") or {}).get("title"),
            "path": first.get("id"),
            "access_level": sharinghub_level(await principal_of(request), first["_acl"]),
            "categories": sorted({str(hit.get("collection")) for hit in hits}),
        }
    )


async def auth_info(request: Request) -> Response:
    refuse_unknown(dict(request.query_params), ())
    principal = await principal_of(request)
    if principal.user is None:
        raise Unauthorized("not signed in: send a GitLab token")
    return JSONResponse(
        {"authenticated": True, "username": principal.user.username,
         "admin": principal.kind == "admin"}
    )  # fmt: skip
