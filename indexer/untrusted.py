"""Input nobody vouches for, made safe to hold before anything recursive touches it.

- ``load_json``: JSON text into Python within a size and a nesting bound (orjson refuses
  lone surrogates, NaN and numbers that overflow, which is what the index needs too);
- ``nesting_depth``: how deep a parsed value nests, measured without recursion;
- ``bracket_depth``: how deep brackets nest in text (CQL2, WKT), outside quoted strings,
  before a parser written in native code recurses into it;
- ``load_yaml``: YAML (README front matter, MLflow's MLmodel files) without anchors and
  aliases, within a nesting bound;
- ``valid_text`` and ``clean_strings``: strings made valid Unicode (a lone surrogate, which
  YAML and Python's json accept, cannot be encoded as UTF-8 and poisons whatever holds it).

Every refusal is an ``Invalid`` naming what was wrong and the bound, never the content.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent, CollectionStartEvent, NodeEvent

from indexer.errors import Invalid

REPLACEMENT = "\ufffd"


def load_json(data: bytes | str, *, max_depth: int, what: str) -> Any:
    """Parse JSON text, or raise ``Invalid`` that says why ``what`` is not acceptable JSON.
    orjson's own bound (1,024 levels) holds while parsing; ``max_depth`` is checked after."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        reason = str(error).split(":", 1)[0]
        raise Invalid(f"{what} is not valid JSON: {reason}") from None
    if nesting_depth(value, max_depth) > max_depth:
        raise Invalid(f"{what} nests deeper than {max_depth} levels")
    return value


def nesting_depth(value: Any, stop_above: int | None = None) -> int:
    """How many levels of lists and dicts ``value`` holds (a scalar is 0). Iterative, so
    any depth is measured safely; ``stop_above`` ends the walk once that depth is passed."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if stop_above is not None and deepest > stop_above:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def bracket_depth(text: str, opening: str = "(", closing: str = ")") -> int:
    """The deepest nesting of brackets in ``text``. Every bracket counts, quoted or not: a
    quote the counter would take for a string's start could hide thousands of brackets
    from it, and a bracket counted in a string costs the client a refusal at worst."""
    depth = deepest = 0
    for char in text:
        if char == opening:
            depth += 1
            deepest = max(deepest, depth)
        elif char == closing:
            depth = max(depth - 1, 0)
    return deepest


def valid_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (pairs are joined)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def clean_strings(value: Any) -> tuple[Any, int]:
    """``value`` with every string (keys too) made valid Unicode, and how many were not.
    Lists and dicts are mended in place; no recursion."""
    repaired = 0

    def fix(text: str) -> str:
        nonlocal repaired
        fixed = valid_text(text)
        if fixed is not text:
            repaired += 1
        return fixed

    if isinstance(value, str):
        return fix(value), repaired
    root: list[Any] = [value]
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for index, child in enumerate(node):
                if isinstance(child, str):
                    node[index] = fix(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
        elif isinstance(node, dict):
            for key in list(node):
                child = node[key]
                if isinstance(child, str):
                    child = fix(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
                new_key = fix(key) if isinstance(key, str) else key
                if new_key is not key:
                    del node[key]
                node[new_key] = child
    return root[0], repaired


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing anchors and aliases (a few hundred bytes of aliases
    expand into gigabytes: "billion laughs") and nesting past ``max_depth`` while it
    composes (PyYAML recurses)."""

    max_depth = 16

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor):
            raise self._refusal("anchors and aliases are not allowed", event)
        nested = isinstance(event, CollectionStartEvent)
        if nested:
            self._depth += 1
            if self._depth > self.max_depth:
                raise self._refusal(f"nested deeper than {self.max_depth} levels", event)
        try:
            return super().compose_node(parent, index)
        finally:
            if nested:
                self._depth -= 1

    @staticmethod
    def _refusal(problem: str, event: Any) -> ComposerError:
        return ComposerError(None, None, problem, event.start_mark)


def load_yaml(text: str, max_depth: int, first_line: int = 1) -> tuple[Any, str | None]:
    """Someone's YAML, or the problem that stopped it ("is not YAML at line 3: ..."; lines
    counted from ``first_line``). Check the text's size before: YAML is read whole."""
    loader = _BoundedLoader(text)
    loader.max_depth = max_depth
    try:
        return loader.get_single_data(), None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + first_line}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        return None, f"is not YAML{where}: {problem}"
    except (ValueError, OverflowError, RecursionError) as error:
        # A value YAML resolves but Python cannot build (an integer of 5,000 digits).
        return None, f"holds a value that cannot be read: {type(error).__name__}"
    finally:
        loader.dispose()
