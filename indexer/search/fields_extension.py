"""The STAC API fields extension: which parts of each item a search returns.

``FieldSelection.include`` is ``None`` when the client named no field to include, and ``()``
when it asked for fields but left both lists empty; the two differ:

- no ``fields`` at all: the whole item;
- ``fields`` with nothing in it (``?fields=``, ``{}``, null or empty include and exclude
  lists): the default set,
  the smallest valid STAC item (DEFAULT_SET);
- includes: what identifies the item (IDENTITY) plus what was included;
- only excludes (``?fields=-geometry``, ``{"exclude": [...]}``): the whole item without them;
- an empty include list with excludes: the default set without them (stac-api-validator
  checks this; pystac-client sends ``-geometry`` in a POST body this way).

A field both included and excluded stays (include wins, as stac-fastapi and
stac-api-validator expect), and an include inside an excluded object survives it:
``-properties,+properties.title`` returns the title and no other property.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

IDENTITY = ("type", "stac_version", "id", "links")
DEFAULT_SET = (
    *IDENTITY,
    "collection",
    "geometry",
    "bbox",
    "assets",
    "properties.datetime",
    "properties.start_datetime",
    "properties.end_datetime",
)


@dataclass(frozen=True)
class FieldSelection:
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()

    @cached_property
    def _plan(self) -> _Plan:
        """What ``apply`` does to every item, worked out once per selection (the names
        compared with each other, never per item)."""
        included = set(self.include or ())
        dropped = [p for p in self.exclude if p not in included and p not in IDENTITY]
        dropped_prefixes = tuple(f"{d}." for d in dropped)
        kept_prefixes = tuple(f"{kept}." for kept in included)
        return _Plan(
            projection=None
            if self.include is None
            else ((*IDENTITY, *self.include) if self.include else DEFAULT_SET),
            dropped=[p.split(".") for p in dropped],
            # Includes inside an excluded object, taken before any drop can reach them.
            survivors=[p for p in included if p.startswith(dropped_prefixes)],
            # An exclusion inside a surviving include still holds, whatever the order given.
            late_drops=[p.split(".") for p in dropped if p.startswith(kept_prefixes)],
        )

    def apply(self, item: dict[str, Any]) -> dict[str, Any]:
        """The selected parts of ``item``, which it may change: pass one built for this
        response (search hits are)."""
        plan = self._plan
        selected = item if plan.projection is None else _project(item, plan.projection)
        survivors = _project(item, plan.survivors) if plan.survivors else {}
        for parts in plan.dropped:
            _drop(selected, parts)
        _merge(selected, survivors)
        for parts in plan.late_drops:
            _drop(selected, parts)
        return selected


@dataclass(frozen=True)
class _Plan:
    projection: tuple[str, ...] | None
    dropped: list[list[str]]
    survivors: list[str]
    late_drops: list[list[str]]


def _project(item: dict[str, Any], paths: list[str] | tuple[str, ...]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for path in paths:
        _copy(item, kept, path.split("."))
    return kept


def _copy(source: dict[str, Any], target: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if head not in source:
        return  # asking for a field an item lacks is not an error (the extension says so)
    if not rest:
        target[head] = source[head]
    elif isinstance(source[head], dict):
        _copy(source[head], target.setdefault(head, {}), rest)


def _drop(item: dict[str, Any], parts: list[str]) -> None:
    node: Any = item
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
