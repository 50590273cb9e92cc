"""Links of STAC responses, built from the API's public address (``LABSTAC_PUBLIC_URL``),
or else from the request's own scheme and host, under the ASGI root path. Behind a proxy,
api.proxy has already put what a trusted proxy forwarded into the request; a Host header
that is not a host name falls back to the address the server listens on. A token never goes
into a link."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request

from api.proxy import SCHEMES, valid_host

GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def stac_base(request: Request) -> str:
    """The absolute URL of the STAC root, without a trailing slash."""
    return f"{site_base(request)}{request.app.state.settings.stac_root}"


def site_base(request: Request) -> str:
    """The absolute URL of labstac's root (the web catalog, sign-in), without a trailing
    slash."""
    settings = request.app.state.settings
    if settings.public_url is not None:
        return str(settings.public_url).rstrip("/")
    scheme = request.scope.get("scheme", "http")
    scheme = scheme if scheme in SCHEMES else "http"
    host = request.headers.get("host", "")
    if not valid_host(host):
        server = request.scope.get("server") or ("127.0.0.1", settings.port)
        host = f"{server[0]}:{server[1]}"
    # Inside the STAC mount, root_path has grown by the mount's path: the proxy's own root
    # path is what Starlette kept in app_root_path.
    root_path = request.scope.get("app_root_path", request.scope.get("root_path", ""))
    return f"{scheme}://{host}{quote(root_path, safe='/')}"


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
    """The item's own links, then its stored ones. A stored link to another item (README
    ``related``) is kept relative to the STAC root, so that it follows this API's address
    however it is reached: it is made absolute here."""
    collection = str(item["collection"])
    own = [
        link("self", item_url(base, collection, str(item["id"])), GEOJSON),
        link("parent", collection_url(base, collection)),
        link("collection", collection_url(base, collection)),
        link("root", base),
    ]
    stored = [
        {**found, "href": f"{base}/{found['href']}"}
        if isinstance(found, dict) and str(found.get("href", "")).startswith("collections/")
        else found
        for found in item.get("links", [])
    ]
    return own + stored
