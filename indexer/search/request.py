"""Item search as a typed request and a pure translation into the engine's query DSL.

Every query sorts by ``properties.datetime`` (newest first), then by the document key, which
is unique: a stable order that ``search_after`` pages through without gaps or repeats. A
page token is opaque to clients (base64 of JSON): a next page's is the ``search_after`` value
of the last item before it; a previous page's is ``{"before": ...}`` with the sort values of
the first item after it, which the engine answers by searching the reversed order.

A page asks the engine for one item more than it shows: whether that item exists says
whether there is a page after it (a full last page gets no next link).
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from indexer.errors import Invalid
from indexer.search.fields_extension import FieldSelection

SORT: list[dict[str, Any]] = [
    {"properties.datetime": {"order": "desc", "missing": "_last"}},
    {"doc_key": {"order": "asc"}},
]
# Fields a client may sort by, as the names it uses and the index field behind each.
SORTABLE = {
    "id": "id",
    "collection": "collection",
    "datetime": "properties.datetime",
    "start_datetime": "properties.start_datetime",
    "end_datetime": "properties.end_datetime",
    "created": "properties.created",
    "updated": "properties.updated",
    "title": "properties.title.keyword",
}
SORTABLE.update(
    {f"properties.{k}": v for k, v in list(SORTABLE.items()) if v.startswith("properties.")}
)
TEXT_FIELDS = ["properties.title^3", "properties.description", "properties.keywords^2"]
# What clients never see: labstac's own fields. They are dropped here, from the whole
# stored document, not by the engine: its source filtering parses each document again and
# fails the whole query on one it cannot parse (docs/security.md, "Poisoned documents").
HIDDEN = ("_acl", "labstac", "doc_key", "previous_ids")
# A page token is the sort values of a page's last hit: a few short scalars.
TOKEN_MAX_CHARS = 4096


@dataclass(frozen=True)
class DatetimeRange:
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class SearchRequest:
    collections: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    bbox: tuple[float, ...] | None = None
    intersects: dict[str, Any] | None = None
    datetime: DatetimeRange | None = None
    limit: int = 10
    token: str | None = None
    sortby: tuple[tuple[str, bool], ...] = ()  # (queryable field, ascending)
    q: tuple[str, ...] = ()  # free-text terms or phrases, any of which may match
    fields: FieldSelection | None = None  # None: whole items
    filter: dict[str, Any] | None = None  # a CQL2 filter, already in the engine's DSL


@dataclass(frozen=True)
class PageToken:
    values: list[Any]  # the sort values to search after
    backward: bool = False  # a previous page: searched in the reversed order


def encode_token(values: list[Any], backward: bool = False) -> str:
    material = {"before": values} if backward else values
    return base64.urlsafe_b64encode(orjson.dumps(material)).decode().rstrip("=")


def _reversed(clause: dict[str, Any]) -> dict[str, Any]:
    ((field, spec),) = clause.items()
    spec = {"order": spec} if isinstance(spec, str) else dict(spec)
    spec["order"] = "asc" if spec.get("order") == "desc" else "desc"
    if "missing" in spec:
        spec["missing"] = "_first" if spec["missing"] == "_last" else "_last"
    return {field: spec}


def sort_clause(request: SearchRequest) -> list[dict[str, Any]]:
    """The request's order, ending in the unique document key so pages never overlap."""
    if not request.sortby:
        return SORT
    clauses: list[dict[str, Any]] = [
        {SORTABLE[name]: {"order": "asc" if ascending else "desc", "missing": "_last"}}
        for name, ascending in request.sortby
    ]
    return [*clauses, {"doc_key": {"order": "asc"}}]


def decode_token(token: str, expected: int = len(SORT)) -> PageToken:
    """What a page token holds: ``expected`` sort values (strings, numbers or nulls), and
    its direction."""
    refused = Invalid("token is not a page token this API gave")
    if len(token) > TOKEN_MAX_CHARS or not token.isascii():
        raise refused
    try:
        padded = token + "=" * (-len(token) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError):
        raise refused from None
    backward = isinstance(values, dict) and set(values) == {"before"}
    if backward:
        values = values["before"]
    if not isinstance(values, list) or len(values) != expected:
        raise refused
    for value in values:
        if not (value is None or isinstance(value, str | int | float)) or isinstance(value, bool):
            raise refused
        if isinstance(value, float) and not math.isfinite(value):
            raise refused
    return PageToken(values, backward)


def public_item(document: dict[str, Any]) -> dict[str, Any]:
    """A stored document as clients see it: without labstac's own fields."""
    return {key: value for key, value in document.items() if key not in HIDDEN}


def bbox_corners(bbox: tuple[float, ...] | list[float]) -> tuple[float, float, float, float]:
    """West, south, east, north of a 4- or 6-number bbox (the heights dropped)."""
    west, south, east, north = (bbox[0], bbox[1], bbox[3], bbox[4]) if len(bbox) == 6 else bbox
    return west, south, east, north


def bbox_shape(bbox: tuple[float, ...] | list[float]) -> dict[str, Any]:
    """The engine's shape for a bbox: an envelope, or two across the antimeridian. Envelopes
    may be flat (a line, a point) where polygons may not: 180,0,-180,10 is a line."""
    west, south, east, north = bbox_corners(bbox)
    if west > east:  # across the antimeridian: two envelopes
        return {
            "type": "geometrycollection",
            "geometries": [
                {"type": "envelope", "coordinates": [[west, north], [180, south]]},
                {"type": "envelope", "coordinates": [[-180, north], [east, south]]},
            ],
        }
    return {"type": "envelope", "coordinates": [[west, north], [east, south]]}


def _datetime_clause(window: DatetimeRange) -> dict[str, Any]:
    """Items whose datetime falls in the window, or whose start..end range overlaps it."""
    start = window.start.isoformat() if window.start else None
    end = window.end.isoformat() if window.end else None
    instant: dict[str, Any] = {}
    if start:
        instant["gte"] = start
    if end:
        instant["lte"] = end
    ranged: list[dict[str, Any]] = []
    if end:
        ranged.append({"range": {"properties.start_datetime": {"lte": end}}})
    if start:
        ranged.append({"range": {"properties.end_datetime": {"gte": start}}})
    return {
        "bool": {
            "should": [
                {"range": {"properties.datetime": instant}},
                {"bool": {"filter": [{"exists": {"field": "properties.start_datetime"}},
                                     *ranged]}},
            ],
            "minimum_should_match": 1,
        }
    }  # fmt: skip


def filters(request: SearchRequest, access: dict[str, Any]) -> list[dict[str, Any]]:
    """Every clause in filter context: the request's, and the caller's access filter."""
    clauses: list[dict[str, Any]] = [access]
    if request.collections:
        clauses.append({"terms": {"collection": list(request.collections)}})
    if request.ids:
        clauses.append({"terms": {"id": list(request.ids)}})
    if request.bbox is not None:
        shape = bbox_shape(request.bbox)
        clauses.append({"geo_shape": {"geometry": {"shape": shape, "relation": "intersects"}}})
    if request.intersects is not None:
        clauses.append(
            {"geo_shape": {"geometry": {"shape": request.intersects, "relation": "intersects"}}}
        )
    if request.datetime is not None:
        clauses.append(_datetime_clause(request.datetime))
    if request.filter is not None:
        clauses.append(request.filter)
    if request.q:
        clauses.append(
            {
                "bool": {
                    "should": [
                        {
                            "multi_match": {
                                "query": term,
                                "fields": TEXT_FIELDS,
                                "type": "phrase" if " " in term.strip() else "best_fields",
                                "operator": "and",
                            }
                        }
                        for term in request.q
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    return clauses


def search_body(request: SearchRequest, access: dict[str, Any]) -> dict[str, Any]:
    """The page's query: one hit more than the page shows (see the module's doc); for a
    previous page's token, in the reversed order (``page_hits`` turns it round)."""
    sort = sort_clause(request)
    token = decode_token(request.token, len(sort)) if request.token else None
    if token is not None and token.backward:
        sort = [_reversed(clause) for clause in sort]
    body: dict[str, Any] = {
        "query": {"bool": {"filter": filters(request, access)}},
        "sort": sort,
        "size": request.limit + 1,
        "track_total_hits": True,
    }
    if token is not None:
        body["search_after"] = token.values
    return body


@dataclass(frozen=True)
class Page:
    hits: list[dict[str, Any]]
    next_token: str | None
    prev_token: str | None


def page_hits(request: SearchRequest, hits: list[dict[str, Any]]) -> Page:
    """The hits of the page ``search_body`` asked for, in order, and the tokens of the
    pages around it (None where there is none)."""
    token = decode_token(request.token, len(sort_clause(request))) if request.token else None
    backward = token is not None and token.backward
    more = len(hits) > request.limit
    hits = hits[: request.limit]
    if not hits:
        return Page([], None, None)
    if backward:
        hits.reverse()
        # Coming back from a page: that page is still after this one.
        return Page(hits, encode_token(hits[-1]["sort"]),
                    encode_token(hits[0]["sort"], backward=True) if more else None)  # fmt: skip
    return Page(
        hits,
        encode_token(hits[-1]["sort"]) if more else None,
        encode_token(hits[0]["sort"], backward=True) if token is not None else None,
    )


def item_body(collection: str, field: str, item_id: str, access: dict[str, Any]) -> dict[str, Any]:
    """One item of a collection by its id (``field="id"``) or a former id
    (``"previous_ids"``), if this caller may see it."""
    return {
        "query": {
            "bool": {
                "filter": [access, {"term": {"collection": collection}}, {"term": {field: item_id}}]
            }
        },
        "size": 1,
        "sort": [{"doc_key": "asc"}],
    }


def project_body(target: str, access: dict[str, Any]) -> dict[str, Any]:
    """The documents (one per category) of a project, by GitLab id (digits) or full path (a
    former path too, as GitLab redirects a renamed project), if this caller may see them."""
    if target.isascii() and target.isdigit() and len(target) < 19:
        which: dict[str, Any] = {"term": {"_acl.project_id": int(target)}}
    else:
        which = {
            "bool": {
                "should": [{"term": {"id": target}}, {"term": {"previous_ids": target}}],
                "minimum_should_match": 1,
            }
        }
    return {
        "query": {"bool": {"filter": [access, which]}},
        "size": 50,  # a project is in a few categories
        "sort": [{"doc_key": "asc"}],
        "_source": ["id", "collection", "_acl", "labstac.project_id", "labstac.name",
                    "properties.title"],
    }  # fmt: skip


def extent_body(collections: list[str], access: dict[str, Any]) -> dict[str, Any]:
    """The extents of these collections from the items this caller may see, and nothing
    else: one bucket per collection that has such items, in one request."""
    return {
        "size": 0,
        "query": {"bool": {"filter": [access, {"terms": {"collection": collections}}]}},
        "aggs": {
            "by_collection": {
                "terms": {"field": "collection", "size": max(len(collections), 1)},
                "aggs": {
                    # Without wrap_longitude false, the engine picks the narrower of the box
                    # and its antimeridian-crossing complement: one world-wide item turns the
                    # extent inside out.
                    "bounds": {"geo_bounds": {"field": "geometry", "wrap_longitude": False}},
                    "first": {"min": {"field": "properties.datetime"}},
                    "last": {"max": {"field": "properties.datetime"}},
                    "first_start": {"min": {"field": "properties.start_datetime"}},
                    "last_end": {"max": {"field": "properties.end_datetime"}},
                },
            }
        },
    }
