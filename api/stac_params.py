"""STAC search parameters: one table describes each (for the parser and for the OpenAPI
document alike), and the parser turns a GET query or a POST body into a ``SearchRequest``,
or a 400 that says which parameter is wrong and why."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from indexer.errors import Invalid
from indexer.search.fields_extension import FieldSelection
from indexer.search.filter_extension import CRS84, filter_clause
from indexer.search.query_extension import OPERATORS as QUERY_OPERATORS
from indexer.search.query_extension import query_clause
from indexer.search.request import SORTABLE, DatetimeRange, SearchRequest, bbox_corners

MAX_LIMIT = 1000
DEFAULT_LIMIT = 10
GEOMETRY_TYPES = {
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
    "GeometryCollection",
}  # fmt: skip


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    schema: dict[str, Any]
    style_form_explode_false: bool = False  # comma-separated lists in a query string
    body_schema: dict[str, Any] | None = None  # in a POST body, when it differs from GET's


PARAMETERS = {
    p.name: p
    for p in (
        Parameter("bbox", "Only items intersecting this box: west,south,east,north (or 6 "
                  "numbers with heights), in WGS 84. West above east crosses the antimeridian.",
                  {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                  True),
        Parameter("intersects", "Only items intersecting this GeoJSON geometry (POST body; "
                  "GET: the geometry as JSON).", {"type": "object"}),
        Parameter("datetime", "An RFC 3339 instant, or an interval start/end where either end "
                  "may be open ('..' or empty).", {"type": "string"}),
        Parameter("ids", "Only items with these ids (project paths).",
                  {"type": "array", "items": {"type": "string"}}, True),
        Parameter("collections", "Only items of these collections.",
                  {"type": "array", "items": {"type": "string"}}, True),
        Parameter("limit", f"Items per page, 1 to {MAX_LIMIT} (larger values are clamped).",
                  {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT}),
        Parameter("token", "The page token of a next link.", {"type": "string"}),
        Parameter("sortby", "Sort order: fields with an optional + or - (descending), e.g. "
                  "-datetime,+title. Sortable: " + ", ".join(sorted(k for k in SORTABLE
                  if "." not in k)) + ".",
                  {"type": "array", "items": {"type": "string"}}, True,
                  {"oneOf": [{"type": "string"}, {"type": "array", "items": {
                      "type": "object", "required": ["field"],
                      "properties": {"field": {"type": "string"},
                                     "direction": {"type": "string", "enum": ["asc", "desc"]}}}
                  }]}),
        Parameter("fields", "Fields to include (name or +name) or exclude (-name), e.g. "
                  "properties.title,-assets. type, stac_version, id and links stay. Empty: "
                  "the smallest valid item; only exclusions: the whole item without them.",
                  {"type": "array", "items": {"type": "string"}}, True,
                  {"type": "object", "additionalProperties": False, "properties": {
                      "include": {"type": "array", "items": {"type": "string"}, "nullable": True},
                      "exclude": {"type": "array", "items": {"type": "string"}, "nullable": True},
                  }}),
        Parameter("q", "Free text over title, description and keywords: any of the terms or "
                  "phrases.", {"type": "array", "items": {"type": "string"}}, True),
        Parameter("filter", "A CQL2 filter over the queryables (see /queryables).",
                  {"type": "string"}, body_schema={"oneOf": [{"type": "object"},
                                                            {"type": "string"}]}),
        Parameter("filter-lang", "cql2-text (the default in a query string) or cql2-json "
                  "(the default in a POST body).",
                  {"type": "string", "enum": ["cql2-text", "cql2-json"]}),
        Parameter("filter-crs", f"Only {CRS84}.", {"type": "string"}),
        Parameter("query", "The query extension, as JSON: queryable -> {operator: value}, "
                  "operators " + ", ".join(QUERY_OPERATORS) + ". Prefer filter.",
                  {"type": "string"}, body_schema={"type": "object"}),
    )
}  # fmt: skip
SEARCH_PARAMETERS = tuple(PARAMETERS)
ITEMS_PARAMETERS = (
    "bbox", "datetime", "limit", "token", "sortby", "fields", "q", "filter", "filter-lang",
    "filter-crs", "query",
)  # fmt: skip


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _moment(text: str, name: str) -> datetime | None:
    if text in ("", ".."):
        return None
    if not _RFC3339.match(text):
        raise Invalid(f"{name}: '{text}' is not an RFC 3339 date-time")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name}: '{text}' is not an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        raise Invalid(f"{name}: '{text}' needs a time zone (RFC 3339), for example Z")
    return moment


def parse_datetime(value: Any) -> DatetimeRange | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Invalid("datetime must be an RFC 3339 date-time or interval")
    parts = value.split("/")
    if len(parts) == 1:
        moment = _moment(parts[0], "datetime")
        if moment is None:
            raise Invalid("datetime must not be open on both ends")
        return DatetimeRange(moment, moment)
    if len(parts) != 2:
        raise Invalid("datetime is an instant or one interval start/end")
    start, end = _moment(parts[0], "datetime start"), _moment(parts[1], "datetime end")
    if start is None and end is None:
        raise Invalid("datetime must not be open on both ends")
    if start and end and start > end:
        raise Invalid("datetime starts after it ends")
    return DatetimeRange(start, end)


def parse_bbox(value: Any, from_query: bool) -> tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) and not from_query:
        raise Invalid("bbox must be a JSON array of 4 or 6 numbers")
    items = value.split(",") if isinstance(value, str) else value
    try:
        numbers = tuple(float(item) for item in items)
    except (TypeError, ValueError):
        raise Invalid("bbox must be 4 or 6 numbers") from None
    if len(numbers) not in (4, 6):
        raise Invalid(f"bbox must be 4 or 6 numbers, not {len(numbers)}")
    west, south, east, north = bbox_corners(numbers)
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise Invalid("bbox must be west,south,east,north within -180..180 and -90..90")
    return numbers


def parse_intersects(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise Invalid("intersects must be a GeoJSON geometry") from None
    if not isinstance(value, dict) or value.get("type") not in GEOMETRY_TYPES:
        raise Invalid("intersects must be a GeoJSON geometry")
    if value["type"] != "GeometryCollection" and "coordinates" not in value:
        raise Invalid("intersects must be a GeoJSON geometry with coordinates")
    return value


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise Invalid(f"{name} must be a list of strings")
    return tuple(item.strip() for item in items if item.strip())


def parse_sortby(value: Any) -> tuple[tuple[str, bool], ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        specs = [(item.strip().lstrip("+-"), not item.strip().startswith("-"))
                 for item in value.split(",") if item.strip()]  # fmt: skip
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        specs = []
        for entry in value:
            direction = str(entry.get("direction", "asc")).lower()
            if direction not in ("asc", "desc") or not isinstance(entry.get("field"), str):
                raise Invalid("each sortby entry is {field, direction: asc or desc}")
            specs.append((entry["field"], direction == "asc"))
    else:
        raise Invalid("sortby must be fields with + or -, or a list of {field, direction}")
    unknown = [name for name, _ in specs if name not in SORTABLE]
    if unknown:
        sortable = ", ".join(sorted(k for k in SORTABLE if "." not in k))
        raise Invalid(f"cannot sort by {', '.join(unknown)}; sortable fields: {sortable}")
    return tuple(specs)


def parse_fields(values: dict[str, Any], from_query: bool) -> FieldSelection | None:
    if "fields" not in values:
        return None
    value = values["fields"]
    if from_query and isinstance(value, str):
        names = [name.strip() for name in value.split(",") if name.strip()]
        included = [n.lstrip("+") for n in names if not n.startswith("-")]
        excluded = tuple(n[1:] for n in names if n.startswith("-"))
        # Only exclusions take them from the whole item; anything else from the default set.
        whole_item = bool(excluded) and not included
        return FieldSelection(None if whole_item else tuple(included), excluded)
    if not from_query and isinstance(value, dict) and not set(value) - {"include", "exclude"}:
        include, exclude = value.get("include"), value.get("exclude")
        lists = [v for v in (include, exclude) if v is not None]
        if all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in lists):
            # A missing include list differs from an empty one: see indexer/fields_extension.
            whole_item = "include" not in value and bool(exclude)
            return FieldSelection(
                None if whole_item else tuple(include or ()), tuple(exclude or ())
            )
    raise Invalid(
        "fields must be names with + or - (GET), or {include: [names], exclude: [names]} (POST)"
    )


def parse_q(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise Invalid("q must be text, or a list of terms")
    return tuple(item.strip().strip('"') for item in items if item.strip())


def parse_limit(value: Any) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise Invalid("limit must be an integer") from None
    if isinstance(value, float) and not value.is_integer():
        raise Invalid("limit must be an integer")
    if limit < 1:
        raise Invalid("limit must be at least 1")
    return min(limit, MAX_LIMIT)


def refuse_unknown(values: dict[str, Any], allowed: tuple[str, ...]) -> None:
    # An ignored parameter would answer a different question than the one asked.
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise Invalid(f"unknown parameter(s): {', '.join(unknown)}")


def parse_search(
    values: dict[str, Any],
    allowed: tuple[str, ...] = SEARCH_PARAMETERS,
    *,
    from_query: bool = True,
) -> SearchRequest:
    """Parameters of a GET query string (lists comma-separated, geometry as JSON text), or,
    with ``from_query=False``, of a POST body (JSON types)."""
    refuse_unknown(values, allowed)
    request = SearchRequest(
        collections=_strings(values.get("collections"), "collections"),
        ids=_strings(values.get("ids"), "ids"),
        bbox=parse_bbox(values.get("bbox"), from_query),
        intersects=parse_intersects(values.get("intersects")),
        datetime=parse_datetime(values.get("datetime")),
        limit=parse_limit(values.get("limit")),
        token=values.get("token") if isinstance(values.get("token"), str) else None,
        sortby=parse_sortby(values.get("sortby")),
        q=parse_q(values.get("q")),
    )
    request = replace(request, fields=parse_fields(values, from_query))
    if values.get("filter") not in (None, ""):
        lang = values.get("filter-lang") or ("cql2-text" if from_query else None)
        request = replace(
            request, filter=filter_clause(values["filter"], lang, values.get("filter-crs"))
        )
    if values.get("query") not in (None, ""):
        clause = query_clause(values["query"])
        if clause is not None and request.filter is not None:
            clause = {"bool": {"filter": [request.filter, clause]}}
        if clause is not None:
            request = replace(request, filter=clause)
    if request.bbox is not None and request.intersects is not None:
        raise Invalid("bbox and intersects cannot be used together")
    return request
