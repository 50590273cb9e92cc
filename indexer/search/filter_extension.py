"""CQL2 filters in OpenSearch's DSL. The ``cql2`` library parses CQL2 text or JSON (this
module writes no parser); the expression tree it gives, in CQL2 JSON, is translated here
into clauses for filter context, against the queryables below. Anything this translation
does not support is an ``Invalid`` that says what and, for an unknown property, lists the
queryables."""

from __future__ import annotations

from typing import Any

import cql2

from indexer.errors import Invalid
from indexer.search.request import bbox_shape
from indexer.stac.queryables import ALL as QUERYABLES

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

_ALIASES = {f"properties.{name}": name for name in QUERYABLES}
_RELATIONS = {
    "s_intersects": "intersects",
    "s_within": "within",
    "s_contains": "contains",
    "s_disjoint": "disjoint",
}
_RANGES = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def parse(text_or_json: str | dict[str, Any], lang: str | None) -> dict[str, Any]:
    """The CQL2 JSON tree of a filter given as text or JSON."""
    if lang not in (None, "cql2-text", "cql2-json"):
        raise Invalid("filter-lang must be cql2-text or cql2-json")
    try:
        if isinstance(text_or_json, str) and lang == "cql2-json":
            import json

            text_or_json = json.loads(text_or_json)
        tree = cql2.Expr(text_or_json).to_json()
    except Exception as error:  # cql2 raises plain Exceptions with the parser's message
        reason = str(error).strip().splitlines()
        raise Invalid(
            f"filter is not valid CQL2: {' '.join(r.strip() for r in reason)[:300]}"
        ) from None
    if not isinstance(tree, dict):
        raise Invalid("filter must be a boolean expression")
    return tree


def _field(node: Any) -> str:
    if not isinstance(node, dict) or "property" not in node:
        raise Invalid("each comparison needs a property on its left")
    name = _ALIASES.get(node["property"], node["property"])
    if name not in QUERYABLES:
        raise Invalid(f"unknown property {node['property']}; queryables: {', '.join(QUERYABLES)}")
    return name


def queryable(name: str) -> tuple[str, dict[str, Any]]:
    """The index field and JSON Schema of a queryable (``properties.`` prefix allowed)."""
    return QUERYABLES[_field({"property": name})]


def _value(node: Any) -> Any:
    if isinstance(node, dict):
        for key in ("timestamp", "date"):
            if key in node:
                return node[key]
        raise Invalid(f"unsupported value {node}")
    return node


def _case_insensitive(node: Any) -> tuple[Any, bool]:
    if isinstance(node, dict) and node.get("op") in ("casei", "accenti"):
        return node["args"][0], node["op"] == "casei"
    return node, False


def _instant_or_interval(node: Any) -> tuple[str | None, str | None]:
    if isinstance(node, dict) and "interval" in node:
        start, end = (_value(v) for v in node["interval"])
        return (None if start == ".." else start), (None if end == ".." else end)
    moment = _value(node)
    return moment, moment


def translate(tree: dict[str, Any]) -> dict[str, Any]:
    op = str(tree.get("op", "")).lower()
    args = tree.get("args", [])
    if op in ("and", "or", "not"):
        return _logical(op, args)
    if op in _RELATIONS:
        return _spatial(op, args)
    if op.startswith("t_"):
        return _temporal(op, args)
    if op.startswith("a_"):
        return _array(op, args)
    return _comparison(op, args, tree.get("op"))


def _logical(op: str, args: list[Any]) -> dict[str, Any]:
    parts = [translate(arg) for arg in args]
    if op == "and":
        return {"bool": {"filter": parts}}
    if op == "or":
        return {"bool": {"should": parts, "minimum_should_match": 1}}
    return {"bool": {"must_not": parts[:1]}}


def _spatial(op: str, args: list[Any]) -> dict[str, Any]:
    name = _field(args[0])
    if name != "geometry":
        raise Invalid(f"{op} applies to geometry, not {name}")
    shape = args[1]
    if isinstance(shape, dict) and "bbox" in shape:
        shape = bbox_shape(shape["bbox"])
    return {"geo_shape": {"geometry": {"shape": shape, "relation": _RELATIONS[op]}}}


def _comparison(op: str, args: list[Any], given: Any) -> dict[str, Any]:
    left, insensitive = _case_insensitive(args[0]) if args else (None, False)
    field = QUERYABLES[_field(left)][0]
    if op == "isnull":
        return {"bool": {"must_not": [{"exists": {"field": field}}]}}
    if op in ("=", "<>"):
        right, _ = _case_insensitive(args[1])
        clause = {"term": {field: {"value": _value(right), "case_insensitive": insensitive}}}
        return clause if op == "=" else {"bool": {"must_not": [clause]}}
    if op in _RANGES:
        return {"range": {field: {_RANGES[op]: _value(args[1])}}}
    if op == "between":
        # cql2-json has been written both as [prop, low, high] and [prop, [low, high]].
        low, high = args[1] if len(args) == 2 and isinstance(args[1], list) else args[1:3]
        return {"range": {field: {"gte": _value(low), "lte": _value(high)}}}
    if op == "in":
        values = args[1] if isinstance(args[1], list) else [args[1]]
        return {"terms": {field: [_value(v) for v in values]}}
    if op == "like":
        right, _ = _case_insensitive(args[1])
        pattern = str(right).replace("*", "\\*").replace("?", "\\?")
        pattern = pattern.replace("%", "*").replace("_", "?")
        return {"wildcard": {field: {"value": pattern, "case_insensitive": insensitive}}}
    raise Invalid(f"the CQL2 operator {given} is not supported")


def _temporal(op: str, args: list[Any]) -> dict[str, Any]:
    field = QUERYABLES[_field(args[0])][0]
    start, end = _instant_or_interval(args[1])
    bounds: dict[str, dict[str, Any]] = {
        "t_before": {"lt": start},
        "t_after": {"gt": end},
        "t_equals": {"gte": start, "lte": end},
        "t_intersects": {"gte": start, "lte": end},
        "t_during": {"gt": start, "lt": end},
    }
    if op not in bounds:
        raise Invalid(f"the CQL2 operator {op} is not supported")
    return {"range": {field: {k: v for k, v in bounds[op].items() if v is not None}}}


def _array(op: str, args: list[Any]) -> dict[str, Any]:
    field = QUERYABLES[_field(args[0])][0]
    values = args[1] if isinstance(args[1], list) else [args[1]]
    if op == "a_overlaps":
        return {"terms": {field: values}}
    if op == "a_contains":
        return {"bool": {"filter": [{"term": {field: value}} for value in values]}}
    raise Invalid(f"the CQL2 operator {op} is not supported")


def filter_clause(value: Any, lang: str | None, crs: str | None) -> dict[str, Any]:
    if crs not in (None, "", CRS84):
        raise Invalid(f"filter-crs must be {CRS84}")
    if not isinstance(value, str | dict) or not value:
        raise Invalid("filter must be CQL2 text or JSON")
    if isinstance(value, dict) and lang == "cql2-text":
        raise Invalid("a JSON filter needs filter-lang cql2-json")
    tree = parse(value, lang if isinstance(value, str) else "cql2-json")
    try:
        return translate(tree)
    except (IndexError, KeyError, TypeError, ValueError) as error:
        # cql2 accepts shapes this translator does not expect; that is the
        # caller's filter being unusable here, not a server fault.
        raise Invalid("the filter has an operator with arguments of the wrong shape") from error
