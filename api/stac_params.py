"""STAC search parameters: one table describes each (for the parser and for the OpenAPI
document alike), and the parser turns a GET query or a POST body into a ``SearchRequest``,
or a 400 that says which parameter is wrong and why."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from indexer.errors import Invalid
from indexer.search.fields_extension import FieldSelection
from indexer.search.filter_extension import CRS84, checked_bbox, filter_clause
from indexer.search.geojson import checked_geometry
from indexer.search.limits import DEFAULT_LIMITS, SearchLimits
from indexer.search.query_extension import OPERATORS as QUERY_OPERATORS
from indexer.search.query_extension import query_clause
from indexer.search.request import SORTABLE, DatetimeRange, SearchRequest
from indexer.untrusted import load_json

MAX_LIMIT = 1000
DEFAULT_LIMIT = 10
_INTEGER = re.compile(r"^[+-]?[0-9]{1,18}$")  # ASCII digits only: "²".isdigit() is true


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
        Parameter("token", "The page token of a next or prev link.", {"type": "string"}),
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
    "filter-crs", "query", "collections",
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
    if len(value) > 200:
        raise Invalid("datetime is an instant or one interval start/end")
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
    if isinstance(value, str):
        if len(value) > 200:
            raise Invalid("bbox must be 4 or 6 numbers")
        try:
            value = [float(item) for item in value.split(",")]
        except ValueError:
            raise Invalid("bbox must be 4 or 6 numbers") from None
    return checked_bbox(value, "bbox")


def parse_intersects(value: Any, limits: SearchLimits = DEFAULT_LIMITS) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = load_json(value, max_depth=limits.json_max_depth, what="intersects")
    return checked_geometry(value, "intersects", limits.geometry_max_positions)


def _strings(
    value: Any, name: str, limits: SearchLimits, bound: int | None = None
) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise Invalid(f"{name} must be a list of strings")
    limits.check_count(name, len(items), bound)
    for item in items:
        limits.check_text(f"a value of {name}", item)
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
    if len(specs) > len(SORTABLE):
        raise Invalid(f"sortby names at most {len(SORTABLE)} fields")
    unknown = [name[:100] for name, _ in specs if name not in SORTABLE]
    if unknown:
        sortable = ", ".join(sorted(k for k in SORTABLE if "." not in k))
        raise Invalid(f"cannot sort by {', '.join(unknown)}; sortable fields: {sortable}")
    return tuple(specs)


def parse_fields(
    values: dict[str, Any], from_query: bool, limits: SearchLimits = DEFAULT_LIMITS
) -> FieldSelection | None:
    if "fields" not in values:
        return None
    value = values["fields"]
    if from_query and isinstance(value, str):
        names = [name.strip() for name in value.split(",") if name.strip()]
        _check_field_names(names, limits)
        included = [n.lstrip("+") for n in names if not n.startswith("-")]
        excluded = tuple(n[1:] for n in names if n.startswith("-"))
        # Only exclusions take them from the whole item; anything else from the default set.
        whole_item = bool(excluded) and not included
        return FieldSelection(None if whole_item else tuple(included), excluded)
    if not from_query and isinstance(value, dict) and not set(value) - {"include", "exclude"}:
        include, exclude = value.get("include"), value.get("exclude")
        lists = [v for v in (include, exclude) if v is not None]
        if all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in lists):
            _check_field_names([n for names in lists for n in names], limits)
            # A missing include list differs from an empty one: see indexer/fields_extension.
            whole_item = "include" not in value and bool(exclude)
            return FieldSelection(
                None if whole_item else tuple(include or ()), tuple(exclude or ())
            )
    raise Invalid(
        "fields must be names with + or - (GET), or {include: [names], exclude: [names]} (POST)"
    )


def _check_field_names(names: list[str], limits: SearchLimits) -> None:
    limits.check_count("fields", len(names), limits.max_fields)
    for name in names:
        limits.check_text("a field name", name)


def parse_q(value: Any, limits: SearchLimits = DEFAULT_LIMITS) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise Invalid("q must be text, or a list of terms")
    limits.check_count("q", len(items), limits.max_terms)
    for item in items:
        limits.check_text("a term of q", item)
    return tuple(item.strip().strip('"') for item in items if item.strip())


def parse_limit(value: Any) -> int:
    if value is None:
        return DEFAULT_LIMIT
    refused = Invalid(f"limit must be an integer from 1 to {MAX_LIMIT}")
    if isinstance(value, bool):
        raise refused
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise refused
        value = int(value)
    if isinstance(value, str):
        if not _INTEGER.match(value.strip()):
            raise refused
        value = int(value)
    if not isinstance(value, int):
        raise refused
    if value < 1:
        raise Invalid("limit must be at least 1")
    return min(value, MAX_LIMIT)


def parse_token(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise Invalid("token must be the token of a next or prev link")
    return value


def refuse_unknown(values: dict[str, Any], allowed: tuple[str, ...]) -> None:
    # An ignored parameter would answer a different question than the one asked.
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        names = ", ".join(name[:40] for name in unknown[:10])
        raise Invalid(f"unknown parameter(s): {names}")


def parse_search(
    values: dict[str, Any],
    allowed: tuple[str, ...] = SEARCH_PARAMETERS,
    *,
    from_query: bool = True,
    limits: SearchLimits = DEFAULT_LIMITS,
) -> SearchRequest:
    """Parameters of a GET query string (lists comma-separated, geometry as JSON text), or,
    with ``from_query=False``, of a POST body (JSON types)."""
    refuse_unknown(values, allowed)
    request = SearchRequest(
        collections=_strings(values.get("collections"), "collections", limits),
        ids=_strings(values.get("ids"), "ids", limits),
        bbox=parse_bbox(values.get("bbox"), from_query),
        intersects=parse_intersects(values.get("intersects"), limits),
        datetime=parse_datetime(values.get("datetime")),
        limit=parse_limit(values.get("limit")),
        token=parse_token(values.get("token")),
        sortby=parse_sortby(values.get("sortby")),
        q=parse_q(values.get("q"), limits),
    )
    request = replace(request, fields=parse_fields(values, from_query, limits))
    if values.get("filter") not in (None, ""):
        lang = values.get("filter-lang") or ("cql2-text" if from_query else None)
        request = replace(
            request,
            filter=filter_clause(values["filter"], lang, values.get("filter-crs"), limits),
        )
    if values.get("query") not in (None, ""):
        clause = query_clause(values["query"], limits)
        if clause is not None and request.filter is not None:
            clause = {"bool": {"filter": [request.filter, clause]}}
        if clause is not None:
            request = replace(request, filter=clause)
    if request.bbox is not None and request.intersects is not None:
        raise Invalid("bbox and intersects cannot be used together")
    return request
