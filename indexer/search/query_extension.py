"""The STAC query extension (``{"gsd": {"lte": 30}, "platform": {"in": [...]}}``) in
OpenSearch's DSL, over the same queryables as CQL2 filters. Kept for clients that predate
filters (pystac-client's ``query=``, older QGIS plugins); new clients should use ``filter``."""

from __future__ import annotations

from typing import Any

from indexer.errors import Invalid
from indexer.search.filter_extension import kind_of, queryable, translate
from indexer.search.limits import DEFAULT_LIMITS, SearchLimits
from indexer.untrusted import load_json

_COMPARISONS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_SUBSTRINGS = ("startsWith", "endsWith", "contains")
OPERATORS = (*_COMPARISONS, *_SUBSTRINGS, "in")


def _escaped(text: str) -> str:
    """A literal for a wildcard query: its own * ? and \\ must not act as wildcards."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def query_clause(value: Any, limits: SearchLimits = DEFAULT_LIMITS) -> dict[str, Any] | None:
    """The filter clause for a ``query`` parameter (JSON text in a query string, an object
    in a POST body), or None when it asks for nothing."""
    if isinstance(value, str):
        if len(value) > limits.filter_max_chars:
            raise Invalid(f"query is longer than {limits.filter_max_chars} characters")
        value = load_json(value, max_depth=limits.json_max_depth, what="query")
    if not isinstance(value, dict):
        raise Invalid('query must be an object like {"gsd": {"lte": 30}}')
    clauses: list[dict[str, Any]] = []
    for name, conditions in value.items():
        if not isinstance(conditions, dict) or not conditions:
            raise Invalid(f"query.{name} must be an object of operators: {', '.join(OPERATORS)}")
        for operator, operand in conditions.items():
            clauses.append(_condition(str(name), str(operator), operand, limits))
            if len(clauses) > limits.filter_max_nodes:
                raise Invalid(f"query has more than {limits.filter_max_nodes} conditions")
    return {"bool": {"filter": clauses}} if clauses else None


def _condition(name: str, operator: str, operand: Any, limits: SearchLimits) -> dict[str, Any]:
    prop = {"property": name}
    if operator in _COMPARISONS:
        if not isinstance(operand, str | int | float) or isinstance(operand, bool):
            raise Invalid(f"query.{name}.{operator} must be a string or a number")
        return translate({"op": _COMPARISONS[operator], "args": [prop, operand]}, limits)
    if operator == "in":
        if not isinstance(operand, list) or not operand:
            raise Invalid(f"query.{name}.in must be a non-empty list")
        return translate({"op": "in", "args": [prop, operand]}, limits)
    if operator in _SUBSTRINGS:
        if not isinstance(operand, str):
            raise Invalid(f"query.{name}.{operator} must be a string")
        limits.check_text(f"query.{name}.{operator}", operand)
        field, schema = queryable(name)
        if kind_of(schema) != "text":
            raise Invalid(f"query.{name}.{operator} applies to text, and {name} is not text")
        pattern = {
            "startsWith": f"{_escaped(operand)}*",
            "endsWith": f"*{_escaped(operand)}",
            "contains": f"*{_escaped(operand)}*",
        }[operator]
        return {"wildcard": {field: {"value": pattern}}}
    raise Invalid(
        f"query.{name}: unknown operator {operator[:40]}; operators: {', '.join(OPERATORS)}"
    )
