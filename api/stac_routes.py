"""The STAC API (core, collections, OGC API Features, item search), answered from the index
with the caller's access filter on every query, page and count.

Each endpoint is declared once, in ``ENDPOINTS``: the router and the OpenAPI document are
both made from that table."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from api.auth import access_of
from api.collection_search import COLLECTION_SEARCH_PARAMETERS, matches, parse_collection_search
from api.downloads import proxied
from api.json_response import JSONResponse
from api.request_body import read_body
from api.stac_links import (
    GEOJSON,
    OPENAPI,
    collection_url,
    item_links,
    item_url,
    link,
    stac_base,
    with_query,
)
from api.stac_params import ITEMS_PARAMETERS, SEARCH_PARAMETERS, parse_search
from indexer.errors import Invalid, NotFound
from indexer.search.limits import SearchLimits
from indexer.search.request import (
    SearchRequest,
    extent_body,
    item_body,
    page_hits,
    public_item,
    search_body,
)
from indexer.stac import queryables as queryable_fields
from indexer.stac.categories import Catalog, Category
from indexer.untrusted import load_json

log = logging.getLogger(__name__)

STAC_VERSION = "1.1.0"
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search#free-text",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
    "https://api.stacspec.org/v1.0.0-rc.1/ogcapi-features#free-text",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#query",
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search",
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search#free-text",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/simple-query",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]


def geojson(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, media_type=GEOJSON)


def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


def _category(request: Request) -> Category:
    category = _catalog(request).by_id(request.path_params["collection_id"])
    if category is None:
        raise NotFound(f"no collection {request.path_params['collection_id']}")
    return category


# ----------------------------------------------------------------- landing


async def landing(request: Request) -> Response:
    base = stac_base(request)
    links = [
        link("self", base),
        link("root", base),
        link("conformance", f"{base}/conformance"),
        link("data", f"{base}/collections"),
        link("search", f"{base}/search", GEOJSON, method="GET"),
        link("search", f"{base}/search", GEOJSON, method="POST"),
        link("service-desc", f"{base}/api", OPENAPI),
        link("service-doc", f"{base}/api.html", "text/html"),
        link(
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            f"{base}/queryables",
            "application/schema+json",
        ),
    ]
    links += [
        link("child", collection_url(base, c.id), title=c.title)
        for c in _catalog(request).categories
    ]
    return JSONResponse(
        {
            "type": "Catalog",
            "stac_version": STAC_VERSION,
            "id": "labstac",
            "title": "labstac",
            "description": "Models, datasets and processors of this GitLab, as a STAC catalog.",
            "conformsTo": CONFORMANCE,
            "links": links,
        }
    )


async def conformance(request: Request) -> Response:
    return JSONResponse({"conformsTo": CONFORMANCE})


# ------------------------------------------------------------- collections


async def _extents(request: Request, categories: list[Category]) -> dict[str, dict[str, Any]]:
    """Per collection id, the extent aggregations of what the caller may see (absent for a
    collection with no such item)."""
    engine = request.app.state.engine
    body = extent_body([c.id for c in categories], await access_of(request))
    result = await engine.search(request.app.state.read_alias, body)
    buckets = result.get("aggregations", {}).get("by_collection", {}).get("buckets", [])
    return {bucket["key"]: bucket for bucket in buckets}


def _collection(
    request: Request, category: Category, base: str, aggregations: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """The collection as the caller sees it, and whether its bbox comes from located items
    (rather than the whole-world default)."""
    bounds = aggregations.get("bounds", {}).get("bounds")
    bbox = [-180.0, -90.0, 180.0, 90.0]
    if bounds:
        bbox = [bounds["top_left"]["lon"], bounds["bottom_right"]["lat"],
                bounds["bottom_right"]["lon"], bounds["top_left"]["lat"]]  # fmt: skip
    # An item's time is its range where it has one, else its datetime.
    first = _time_bound(aggregations, ("first", "first_start"), min)
    last = _time_bound(aggregations, ("last", "last_end"), max)
    settings = request.app.state.settings
    links = [
        link("self", collection_url(base, category.id)),
        link("root", base),
        link("parent", base),
        link("items", f"{collection_url(base, category.id)}/items", GEOJSON),
        link(
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            f"{collection_url(base, category.id)}/queryables",
            "application/schema+json",
        ),
    ]
    if category.logo:
        links.append(link("preview", category.logo, None))
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "id": category.id,
        "title": category.title,
        "description": category.description or category.title,
        "keywords": [category.id, category.gitlab_topic],
        "license": "other",
        "providers": [
            {
                "name": f"GitLab ({str(settings.gitlab_url).rstrip('/')})",
                "roles": ["host"],
                "url": str(settings.gitlab_url).rstrip("/"),
            }
        ],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[first, last]]}},
        "links": links,
    }, bool(bounds)


def _time_bound(
    aggregations: dict[str, Any], names: tuple[str, ...], pick: Callable[[list[float]], float]
) -> str | None:
    """The aggregated moment ``pick`` chooses among ``names`` (min or max), as the engine
    wrote it."""
    found: list[tuple[float, str | None]] = [
        (aggregations[name]["value"], aggregations[name].get("value_as_string"))
        for name in names
        if aggregations.get(name, {}).get("value") is not None
    ]
    if not found:
        return None
    chosen = pick([value for value, _ in found])
    return next(text for value, text in found if value == chosen)


async def collections(request: Request) -> Response:
    base = stac_base(request)
    values = _query_values(request)
    search = parse_collection_search(values, request.app.state.search_limits)
    categories = list(_catalog(request).categories)
    extents = await _extents(request, categories)
    built = [_collection(request, c, base, extents.get(c.id, {})) for c in categories]
    found = [doc for doc, located in built if matches(search, doc, located)]
    page = found[search.offset : search.offset + search.limit]
    url = f"{base}/collections"
    links = [link("self", with_query(url, values)), link("root", base)]
    if search.offset + search.limit < len(found):
        links.append(
            link("next", with_query(url, {**values, "token": search.offset + search.limit}))
        )
    if search.offset:
        previous = max(search.offset - search.limit, 0)
        links.append(link("prev", with_query(url, {**values, "token": previous})))
    return JSONResponse(
        {"collections": page, "links": links,
         "numberMatched": len(found), "numberReturned": len(page)}
    )  # fmt: skip


async def collection(request: Request) -> Response:
    category = _category(request)
    extents = await _extents(request, [category])
    found, _ = _collection(request, category, stac_base(request), extents.get(category.id, {}))
    return JSONResponse(found)


# ------------------------------------------------------------------- items


@dataclass(frozen=True)
class _Tokens:
    next: str | None
    prev: str | None
    paged: bool  # a page comes before this one: a first link makes sense


async def _page(request: Request, search: SearchRequest) -> tuple[dict[str, Any], _Tokens]:
    """A page of items, and the tokens of the pages around it."""
    unknown = [c for c in search.collections if _catalog(request).by_id(c) is None]
    if unknown:
        raise Invalid(f"unknown collection(s): {', '.join(unknown)}")
    body = search_body(search, await access_of(request))
    result = await request.app.state.engine.search(request.app.state.read_alias, body)
    page_of = page_hits(search, result["hits"]["hits"])
    base = stac_base(request)
    features = []
    for hit in page_of.hits:
        feature = _feature(request, base, hit, search)
        if feature is not None:
            features.append(feature)
    page = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": int(result["hits"]["total"]["value"]),
        "numberReturned": len(features),
        "links": [link("root", base)],
    }
    # A first page exactly when there is a page before this one.
    return page, _Tokens(page_of.next_token, page_of.prev_token, page_of.prev_token is not None)


def _paging_links(url: str, values: dict[str, Any], tokens: _Tokens) -> list[dict[str, Any]]:
    """next, prev and first links of a GET page: its own query with another token."""
    links = []
    rest = {key: value for key, value in values.items() if key != "token"}
    if tokens.next:
        links.append(link("next", with_query(url, {**rest, "token": tokens.next}), GEOJSON))
    if tokens.prev:
        links.append(link("prev", with_query(url, {**rest, "token": tokens.prev}), GEOJSON))
    if tokens.paged:
        links.append(link("first", with_query(url, rest), GEOJSON))
    return links


def _feature(
    request: Request, base: str, hit: dict[str, Any], search: SearchRequest
) -> dict[str, Any] | None:
    """A hit as a STAC item, or None for a stored document that cannot be one (written by
    something else, or damaged): it is left out of the page, logged and counted, and the
    rest of the page is served."""
    try:
        item = public_item(hit["_source"])
        item = {**item, "links": item_links(base, item)}
        settings = request.app.state.settings
        if settings.asset_hrefs == "proxy":
            site = base.removesuffix(settings.stac_root)  # base is the site's plus the root
            item = proxied(item, str(settings.gitlab_url).rstrip("/"), site)
        return search.fields.apply(item) if search.fields else item
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        request.app.state.metrics.documents_skipped.inc()
        log.error(
            "a stored document cannot be served",
            extra={"doc": hit.get("_id"), "error": type(error).__name__,
                   "request_id": request.scope.get("state", {}).get("request_id")},
        )  # fmt: skip
        return None


def _query_values(request: Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        values[key] = f"{values[key]},{value}" if key in values else value
    return values


async def collection_items(request: Request) -> Response:
    category = _category(request)
    values = _query_values(request)
    search = parse_search(values, ITEMS_PARAMETERS, limits=request.app.state.search_limits)
    # pystac-client names the collection again; another one would be a question about
    # items that cannot be in this one.
    others = [c for c in search.collections if c != category.id]
    if others:
        raise Invalid(
            f"collections: this is collection {category.id}; "
            f"search /search for items of {', '.join(others[:10])}"
        )
    search = replace(search, collections=(category.id,))
    page, tokens = await _page(request, search)
    base = stac_base(request)
    url = f"{collection_url(base, category.id)}/items"
    page["links"] += [
        link("self", with_query(url, values), GEOJSON),
        link("collection", collection_url(base, category.id)),
        *_paging_links(url, values, tokens),
    ]
    return geojson(page)


async def collection_item(request: Request) -> Response:
    category = _category(request)
    item_id = request.path_params["item_id"]
    access = await access_of(request)
    engine, alias = request.app.state.engine, request.app.state.read_alias
    for field in ("id", "previous_ids"):
        body = item_body(category.id, field, item_id, access)
        hits = (await engine.search(alias, body))["hits"]["hits"]
        if not hits:
            continue
        base = stac_base(request)
        if field == "previous_ids":  # the project was renamed or moved
            new_id = hits[0]["_source"]["id"]
            return RedirectResponse(item_url(base, category.id, new_id), status_code=308)
        feature = _feature(request, base, hits[0], SearchRequest())
        if feature is not None:
            return geojson(feature)
    raise NotFound(f"no item {item_id} in collection {category.id}")


# ------------------------------------------------------------------ search


async def queryables(request: Request) -> Response:
    """The core queryables and those of the extensions that the items this caller may see
    (in this collection, if one is named) use."""
    base = stac_base(request)
    collection_id = request.path_params.get("collection_id")
    scope = [await access_of(request)]
    if collection_id is not None:
        _category(request)
        scope.append({"term": {"collection": collection_id}})
        url, title = f"{collection_url(base, collection_id)}/queryables", collection_id
    else:
        url, title = f"{base}/queryables", "labstac items"
    body = {
        "size": 0,
        "query": {"bool": {"filter": scope}},
        "aggs": {"extensions": {"terms": {"field": "stac_extensions", "size": 200}}},
    }
    result = await request.app.state.engine.search(request.app.state.read_alias, body)
    buckets = result.get("aggregations", {}).get("extensions", {}).get("buckets", [])
    used = [bucket["key"] for bucket in buckets]  # none before the first index exists
    document = queryable_fields.schema(url, title, queryable_fields.in_use(used))
    return JSONResponse(document, media_type="application/schema+json")


async def search_get(request: Request) -> Response:
    values = _query_values(request)
    search = parse_search(values, limits=request.app.state.search_limits)
    page, tokens = await _page(request, search)
    base = stac_base(request)
    page["links"].append(link("self", with_query(f"{base}/search", values), GEOJSON))
    page["links"] += [
        {**paging, "method": "GET"} for paging in _paging_links(f"{base}/search", values, tokens)
    ]
    return geojson(page)


async def search_post(request: Request) -> Response:
    limits: SearchLimits = request.app.state.search_limits
    body = await read_body(request, request.app.state.settings.request_max_bytes)
    values = load_json(body or b"{}", max_depth=limits.body_max_depth, what="the body")
    if not isinstance(values, dict):
        raise Invalid("the body must be a JSON object")
    search = parse_search(values, from_query=False, limits=limits)
    page, tokens = await _page(request, search)
    base = stac_base(request)
    url = f"{base}/search"
    page["links"].append(link("self", url, GEOJSON, method="POST"))
    for rel, token in (("next", tokens.next), ("prev", tokens.prev)):
        if token:
            page["links"].append(
                link(rel, url, GEOJSON, method="POST", body={"token": token}, merge=True)
            )
    if tokens.paged:  # the whole body again, without a token: merging cannot remove one
        first = {key: value for key, value in values.items() if key != "token"}
        page["links"].append(link("first", url, GEOJSON, method="POST", body=first))
    return geojson(page)


# --------------------------------------------------------------- the table


Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    path: str
    method: str
    handler: Handler
    summary: str
    parameters: tuple[str, ...] = ()
    response: str = "application/json"
    path_parameters: tuple[str, ...] = ()


ENDPOINTS = (
    Endpoint("/", "GET", landing, "The landing page: links to everything else."),
    Endpoint("/conformance", "GET", conformance, "The conformance classes this API implements."),
    Endpoint("/collections", "GET", collections,
             "The collections (categories), with extents of what the caller may see; "
             "searchable by q, bbox and datetime (against those extents), a page at a time.",
             COLLECTION_SEARCH_PARAMETERS),
    Endpoint("/collections/{collection_id}", "GET", collection, "One collection.",
             path_parameters=("collection_id",)),
    Endpoint("/collections/{collection_id}/items", "GET", collection_items,
             "The items of a collection the caller may see, a page at a time.",
             ITEMS_PARAMETERS, GEOJSON, ("collection_id",)),
    Endpoint("/collections/{collection_id}/items/{item_id:path}", "GET", collection_item,
             "One item (its id is the project's path); an old path redirects to the new one.",
             (), GEOJSON, ("collection_id", "item_id")),
    Endpoint("/queryables", "GET", queryables,
             "What a CQL2 filter may name, as JSON Schema.", (), "application/schema+json"),
    Endpoint("/collections/{collection_id}/queryables", "GET", queryables,
             "What a CQL2 filter on this collection may name.", (), "application/schema+json",
             ("collection_id",)),
    Endpoint("/search", "GET", search_get, "Search items across collections.",
             SEARCH_PARAMETERS, GEOJSON),
    Endpoint("/search", "POST", search_post,
             "Search items across collections, parameters in a JSON body.", (), GEOJSON),
)  # fmt: skip


def stac_routes(extra: list[BaseRoute]) -> list[BaseRoute]:
    by_path: dict[str, list[Endpoint]] = {}
    for endpoint in ENDPOINTS:
        by_path.setdefault(endpoint.path, []).append(endpoint)
    routes: list[BaseRoute] = []
    for path, endpoints in by_path.items():
        if len(endpoints) == 1:
            routes.append(Route(path, endpoints[0].handler, methods=[endpoints[0].method]))
        else:
            handlers = {e.method: e.handler for e in endpoints}

            async def dispatch(
                request: Request, handlers: dict[str, Handler] = handlers
            ) -> Response:
                return await handlers[request.method](request)

            routes.append(Route(path, dispatch, methods=list(handlers)))
    return routes + extra
