"""CQL2 filters in OpenSearch's DSL. The ``cql2`` library parses CQL2 text or JSON (this
module writes no parser); the expression tree it gives, in CQL2 JSON, is translated here
into clauses for filter context, against the queryables below.

The parser is native code that recurses: the text's length and nesting are bounded before
it sees them (it crashes the process, past a few thousand parentheses), and the tree it
gives is bounded again before the translation walks it. Every literal is checked against
its queryable's type (a number for ``gsd``, a date for ``datetime``) and every geometry
against GeoJSON's rules, so that what reaches the engine is a query it can run. Anything
this translation does not support is an ``Invalid`` that says what and, for an unknown
property, lists the queryables."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import cql2

from indexer.errors import Invalid
from indexer.search.geojson import checked_geometry
from indexer.search.limits import DEFAULT_LIMITS, SearchLimits
from indexer.search.request import bbox_shape
from indexer.stac.queryables import ALL as QUERYABLES
from indexer.untrusted import bracket_depth, load_json, nesting_depth

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

_ALIASES = {f"properties.{name}": name for name in QUERYABLES}
_RELATIONS = {
    "s_intersects": "intersects",
    "s_within": "within",
    "s_contains": "contains",
    "s_disjoint": "disjoint",
}
_RANGES = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_LOGICAL = frozenset({"and", "or", "not"})
# Enough for 40,000 characters of the deepest nesting the parser accepts (20,000 need about
# 200 MiB): the largest filter the settings allow.
PARSER_STACK_BYTES = 512 * 1024 * 1024
_STACK_LOCK = threading.Lock()
T = TypeVar("T")
_NUMBER = re.compile(
    r"^[+-]?(?:[0-9]{1,300}(?:\.[0-9]{0,300})?|\.[0-9]{1,300})(?:[eE][+-]?[0-9]{1,3})?$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$")


def parse(
    text_or_json: str | dict[str, Any], lang: str | None, limits: SearchLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """The CQL2 JSON tree of a filter given as text or JSON, within the limits."""
    if lang not in (None, "cql2-text", "cql2-json"):
        raise Invalid("filter-lang must be cql2-text or cql2-json")
    # A JSON filter nests two levels ({op, args: [...]}) for each logical one, plus its
    # deepest literal (a multipolygon's coordinates).
    json_depth = 2 * limits.filter_max_depth + 6
    if isinstance(text_or_json, str):
        if len(text_or_json) > limits.filter_max_chars:
            raise Invalid(f"filter is longer than {limits.filter_max_chars} characters")
        if lang == "cql2-json":
            text_or_json = load_json(text_or_json, max_depth=json_depth, what="filter")
        else:
            _check_text(text_or_json, limits)
    if isinstance(text_or_json, dict) and nesting_depth(text_or_json, json_depth) > json_depth:
        raise Invalid(f"filter nests deeper than {limits.filter_max_depth} levels")
    try:
        tree = _on_a_deep_stack(lambda: cql2.Expr(text_or_json).to_json())
    except Exception as error:  # cql2 raises plain Exceptions with the parser's message
        reason = str(error).strip().splitlines()
        raise Invalid(
            f"filter is not valid CQL2: {' '.join(r.strip() for r in reason)[:300]}"
        ) from None
    if not isinstance(tree, dict):
        raise Invalid("filter must be a boolean expression")
    _check_tree(tree, limits)
    return tree


def _check_text(text: str, limits: SearchLimits) -> None:
    if bracket_depth(text) > limits.filter_max_depth:
        raise Invalid(f"filter nests parentheses deeper than {limits.filter_max_depth} levels")


def _on_a_deep_stack(parse: Callable[[], T]) -> T:
    """Run the parser on a thread of its own with a stack deep enough for any filter within
    the length limit. The parser recurses on more than parentheses (a run of unary minus
    signs, NOT after NOT): on the event loop's 8 MiB stack, 4,000 of them crashed the
    process. The stack is reserved address space; only what the recursion touches is used."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = parse()
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    with _STACK_LOCK:  # stack_size is process-wide: set it only around our own thread
        previous = threading.stack_size(PARSER_STACK_BYTES)
        try:
            thread = threading.Thread(target=run, name="cql2-parser", daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def _check_tree(tree: dict[str, Any], limits: SearchLimits) -> None:
    """Bound the parsed tree, without recursion: operators nested, and operators and values
    in all (a literal list or geometry counts once; its own bounds are checked with it)."""
    nodes = values = 0
    stack: list[tuple[dict[str, Any], int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if str(node.get("op")).lower() in _LOGICAL:
            depth += 1
        if depth > limits.filter_max_depth:
            raise Invalid(f"filter nests deeper than {limits.filter_max_depth} levels")
        args = node.get("args")
        for arg in args if isinstance(args, list) else ():
            if isinstance(arg, dict) and "op" in arg:
                stack.append((arg, depth))
            else:
                nodes += 1
                values += len(arg) if isinstance(arg, list) else 1
        if nodes > limits.filter_max_nodes:
            raise Invalid(f"filter has more than {limits.filter_max_nodes} operators and values")
        if values > limits.max_values:
            raise Invalid(f"filter compares with more than {limits.max_values} values in all")


def _field(node: Any) -> str:
    if not isinstance(node, dict) or not isinstance(node.get("property"), str):
        raise Invalid("each comparison needs a property on its left")
    name = _ALIASES.get(node["property"], node["property"])
    if name not in QUERYABLES:
        raise Invalid(
            f"unknown property {node['property'][:100]}; queryables: {', '.join(QUERYABLES)}"
        )
    return name


def queryable(name: str) -> tuple[str, dict[str, Any]]:
    """The index field and JSON Schema of a queryable (``properties.`` prefix allowed)."""
    return QUERYABLES[_field({"property": name})]


def kind_of(schema: dict[str, Any]) -> str:
    """date, number, integer, boolean, text (strings and lists of strings) or geometry."""
    if "$ref" in schema:
        return "geometry"
    if schema.get("format") == "date-time":
        return "date"
    kind = schema.get("type")
    return str(kind) if kind in ("number", "integer", "boolean") else "text"


def _unwrapped(node: Any) -> Any:
    if isinstance(node, dict):
        for key in ("timestamp", "date"):
            if key in node:
                return node[key]
        raise Invalid("a comparison needs a literal value on its right")
    return node


def _case_insensitive(node: Any) -> tuple[Any, bool]:
    if isinstance(node, dict) and node.get("op") in ("casei", "accenti"):
        args = node.get("args")
        if not isinstance(args, list) or len(args) != 1:
            raise Invalid(f"{node['op']} takes one argument")
        return args[0], node["op"] == "casei"
    return node, False


class _Translation:
    """One filter's translation, with the limits its literals are held to."""

    def __init__(self, limits: SearchLimits) -> None:
        self.limits = limits

    def literal(self, node: Any, name: str) -> Any:
        """The value of a literal compared with queryable ``name``, in the type its index
        field holds; ``Invalid`` when it cannot be that type."""
        value = _unwrapped(node)
        kind = kind_of(QUERYABLES[name][1])
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "date":
            if not isinstance(value, str) or not _is_date(value):
                raise Invalid(f"{name} is a date-time: compare it with a date, not {value!r:.80}")
            return value
        if kind in ("number", "integer"):
            # Numbers written as text ("10", as query-extension clients send them) are
            # numbers too, as the engine reads them; anything else is not.
            if isinstance(value, str) and _NUMBER.match(value.strip()):
                value = float(value)
                number = True
            if not number or not math.isfinite(value):
                raise Invalid(f"{name} is a number: compare it with a number, not {value!r:.80}")
            return value
        if kind == "boolean":
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            if not isinstance(value, bool):
                raise Invalid(f"{name} is true or false, not {value!r:.80}")
            return value
        if kind == "geometry":
            raise Invalid(f"{name} is compared with spatial operators (S_INTERSECTS...)")
        if number and math.isfinite(value):
            return str(int(value)) if float(value).is_integer() else str(value)
        if not isinstance(value, str):
            raise Invalid(f"{name} is text: compare it with a string, not {value!r:.80}")
        self.limits.check_text(f"a value compared with {name}", value)
        return value

    def literals(self, node: Any, name: str) -> list[Any]:
        values = node if isinstance(node, list) else [node]
        self.limits.check_count(f"the list compared with {name}", len(values))
        return [self.literal(value, name) for value in values]

    def translate(self, tree: dict[str, Any]) -> dict[str, Any]:
        op = str(tree.get("op", "")).lower()
        args = tree.get("args", [])
        if not isinstance(args, list):
            raise Invalid(f"the arguments of {op} must be a list")
        if op in _LOGICAL:
            return self.logical(op, args)
        if op in _RELATIONS:
            return self.spatial(op, args)
        if op.startswith("t_"):
            return self.temporal(op, args)
        if op.startswith("a_"):
            return self.array(op, args)
        return self.comparison(op, args, tree.get("op"))

    def logical(self, op: str, args: list[Any]) -> dict[str, Any]:
        if not args or not all(isinstance(arg, dict) for arg in args):
            raise Invalid(f"{op} combines boolean expressions")
        parts = [self.translate(arg) for arg in args]
        if op == "and":
            return {"bool": {"filter": parts}}
        if op == "or":
            return {"bool": {"should": parts, "minimum_should_match": 1}}
        return {"bool": {"must_not": parts[:1]}}

    def spatial(self, op: str, args: list[Any]) -> dict[str, Any]:
        name = _field(args[0])
        if name != "geometry":
            raise Invalid(f"{op} applies to geometry, not {name}")
        shape = args[1]
        if isinstance(shape, dict) and "bbox" in shape:
            shape = bbox_shape(checked_bbox(shape["bbox"], "the filter's BBOX"))
        else:
            checked_geometry(shape, "the filter's geometry", self.limits.geometry_max_positions)
        return {"geo_shape": {"geometry": {"shape": shape, "relation": _RELATIONS[op]}}}

    def comparison(self, op: str, args: list[Any], given: Any) -> dict[str, Any]:
        left, insensitive = _case_insensitive(args[0]) if args else (None, False)
        name = _field(left)
        field = QUERYABLES[name][0]
        if op == "isnull":
            return {"bool": {"must_not": [{"exists": {"field": field}}]}}
        if op in ("=", "<>"):
            right, _ = _case_insensitive(args[1])
            value = self.literal(right, name)
            clause = {"term": {field: {"value": value, "case_insensitive": insensitive}}}
            return clause if op == "=" else {"bool": {"must_not": [clause]}}
        if op in _RANGES:
            return {"range": {field: {_RANGES[op]: self.literal(args[1], name)}}}
        if op == "between":
            # cql2-json has been written both as [prop, low, high] and [prop, [low, high]].
            low, high = args[1] if len(args) == 2 and isinstance(args[1], list) else args[1:3]
            return {
                "range": {field: {"gte": self.literal(low, name), "lte": self.literal(high, name)}}
            }
        if op == "in":
            return {"terms": {field: self.literals(args[1], name)}}
        if op == "like":
            return self.like(name, field, args[1], insensitive)
        raise Invalid(f"the CQL2 operator {str(given)[:40]} is not supported")

    def like(self, name: str, field: str, pattern: Any, insensitive: bool) -> dict[str, Any]:
        right, _ = _case_insensitive(pattern)
        if kind_of(QUERYABLES[name][1]) != "text" or not isinstance(right, str):
            raise Invalid(f"LIKE compares text with a string pattern; {name} is not text")
        self.limits.check_text("a LIKE pattern", right)
        pattern, wildcards = wildcard_pattern(right)
        # Each wildcard multiplies the engine's automaton: a few are a search, hundreds
        # an outage.
        if wildcards > self.limits.like_max_wildcards:
            raise Invalid(
                f"a LIKE pattern may hold at most {self.limits.like_max_wildcards} % or _"
            )
        return {"wildcard": {field: {"value": pattern, "case_insensitive": insensitive}}}

    def temporal(self, op: str, args: list[Any]) -> dict[str, Any]:
        name = _field(args[0])
        if kind_of(QUERYABLES[name][1]) != "date":
            raise Invalid(f"{op} applies to dates, and {name} is not one")
        field = QUERYABLES[name][0]
        start, end = self.instant_or_interval(args[1], name)
        bounds: dict[str, dict[str, Any]] = {
            "t_before": {"lt": start},
            "t_after": {"gt": end},
            "t_equals": {"gte": start, "lte": end},
            "t_intersects": {"gte": start, "lte": end},
            "t_during": {"gt": start, "lt": end},
        }
        if op not in bounds:
            raise Invalid(f"the CQL2 operator {op} is not supported")
        limits = {k: v for k, v in bounds[op].items() if v is not None}
        if limits:
            return {"range": {field: limits}}
        if op in ("t_before", "t_after"):  # before an open start, after an open end: never
            return {"bool": {"must_not": [{"match_all": {}}]}}
        return {"exists": {"field": field}}  # an interval open at both ends: any date

    def instant_or_interval(self, node: Any, name: str) -> tuple[str | None, str | None]:
        if isinstance(node, dict) and "interval" in node:
            ends = node["interval"]
            if not isinstance(ends, list) or len(ends) != 2:
                raise Invalid("an INTERVAL has a start and an end")
            start, end = (None if _unwrapped(v) == ".." else self.literal(v, name) for v in ends)
            return start, end
        moment = self.literal(node, name)
        return moment, moment

    def array(self, op: str, args: list[Any]) -> dict[str, Any]:
        name = _field(args[0])
        field = QUERYABLES[name][0]
        values = self.literals(args[1], name)
        if op == "a_overlaps":
            return {"terms": {field: values}}
        if op == "a_contains":
            return {"bool": {"filter": [{"term": {field: value}} for value in values]}}
        raise Invalid(f"the CQL2 operator {op} is not supported")


def wildcard_pattern(like: str) -> tuple[str, int]:
    """A CQL2 LIKE pattern (``%`` any text, ``_`` one character, ``\\`` escapes) as the
    engine's wildcard pattern, and how many wildcards it holds."""
    out: list[str] = []
    wildcards = 0
    escaped = False
    for char in like:
        if escaped:
            out.append(f"\\{char}" if char in "*?\\" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "%_":
            out.append("*" if char == "%" else "?")
            wildcards += 1
        else:
            out.append(f"\\{char}" if char in "*?" else char)
    if escaped:
        out.append("\\\\")
    return "".join(out), wildcards


def _is_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def checked_bbox(value: Any, what: str) -> tuple[float, ...]:
    """Four or six finite numbers within the globe's ranges, south below north."""
    if (
        not isinstance(value, list | tuple)
        or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in value)
        or not all(math.isfinite(n) for n in value)
    ):
        raise Invalid(f"{what} must be 4 or 6 numbers")
    if len(value) not in (4, 6):
        raise Invalid(f"{what} must be 4 or 6 numbers, not {len(value)}")
    numbers = tuple(float(n) for n in value)
    west, south, east, north = (
        (numbers[0], numbers[1], numbers[3], numbers[4]) if len(numbers) == 6 else numbers
    )
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise Invalid(f"{what} must be west,south,east,north within -180..180 and -90..90")
    return numbers


def translate(tree: dict[str, Any], limits: SearchLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A parsed (and bounded) CQL2 JSON tree as one clause for filter context."""
    try:
        return _Translation(limits).translate(tree)
    except (IndexError, KeyError, TypeError, ValueError) as error:
        # cql2 accepts shapes this translator does not expect; that is the
        # caller's filter being unusable here, not a server fault.
        raise Invalid("the filter has an operator with arguments of the wrong shape") from error


def filter_clause(
    value: Any, lang: str | None, crs: str | None, limits: SearchLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    if crs not in (None, "", CRS84):
        raise Invalid(f"filter-crs must be {CRS84}")
    if not isinstance(value, str | dict) or not value:
        raise Invalid("filter must be CQL2 text or JSON")
    if isinstance(value, dict) and lang == "cql2-text":
        raise Invalid("a JSON filter needs filter-lang cql2-json")
    tree = parse(value, lang if isinstance(value, str) else "cql2-json", limits)
    return translate(tree, limits)
