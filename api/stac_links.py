"""Links of STAC responses, built from the request's own base URL (behind a proxy, from
``X-Forwarded-Proto`` and ``X-Forwarded-Host``, and under the ASGI root path). A token never
goes into a link."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request

GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def stac_base(request: Request) -> str:
    """The absolute URL of the STAC root, without a trailing slash."""
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = request.headers.get("x-forwarded-host", request.headers.get("host", request.url.netloc))
    # Inside the STAC mount, root_path has grown by the mount's path: the proxy's own root
    # path is what Starlette kept in app_root_path.
    root_path = request.scope.get("app_root_path", request.scope.get("root_path", ""))
    stac_root = request.app.state.settings.stac_root
    return f"{scheme}://{host.split(',')[0].strip()}{root_path}{stac_root}"


def link(rel: str, href: str, media_type: str | None = JSON, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"rel": rel, "href": href}
    if media_type:
        result["type"] = media_type
    result.update(extra)
    return result


def collection_url(base: str, collection_id: str) -> str:
    return f"{base}/collections/{quote(collection_id, safe='')}"


def item_url(base: str, collection_id: str, item_id: str) -> str:
    return f"{collection_url(base, collection_id)}/items/{quote(item_id, safe='/')}"


def with_query(url: str, params: dict[str, Any]) -> str:
    clean = {k: v for k, v in params.items() if v is not None}
    return f"{url}?{urlencode(clean)}" if clean else url


def item_links(base: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    collection = str(item["collection"])
    own = [
        link("self", item_url(base, collection, str(item["id"])), GEOJSON),
        link("parent", collection_url(base, collection)),
        link("collection", collection_url(base, collection)),
        link("root", base),
    ]
    return own + list(item.get("links", []))
