"""A client's GeoJSON geometry (``intersects``, a CQL2 spatial literal), checked against
RFC 7946 before the engine sees it: the right nesting for its type, positions of two or
three finite numbers within longitude -180..180 and latitude -90..90, closed rings of four
positions or more, no empty or nested collections, and a bounded number of positions.
What passes is a geometry the engine accepts or refuses only for its shape (a ring that
crosses itself), and that refusal is the client's 400 too."""

from __future__ import annotations

import math
from typing import Any

from indexer.errors import Invalid

# The nesting of ``coordinates`` for each type: 0 is one position, 1 a list of positions...
DEPTHS = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
TYPES = (*DEPTHS, "GeometryCollection")


def checked_geometry(value: Any, what: str, max_positions: int) -> dict[str, Any]:
    """``value`` itself when it is a geometry labstac can search with; ``Invalid`` says
    what is wrong otherwise."""
    if not isinstance(value, dict) or value.get("type") not in TYPES:
        raise Invalid(f"{what} must be a GeoJSON geometry, one of {', '.join(TYPES)}")
    counter = _Counter(what, max_positions)
    if value["type"] == "GeometryCollection":
        members = value.get("geometries")
        if not isinstance(members, list) or not members:
            raise Invalid(f"{what}: a GeometryCollection needs a non-empty geometries list")
        for member in members:
            if not isinstance(member, dict) or member.get("type") not in DEPTHS:
                raise Invalid(f"{what}: a GeometryCollection holds geometries, not collections")
            _check(member, what, counter)
    else:
        _check(value, what, counter)
    return value


class _Counter:
    def __init__(self, what: str, bound: int) -> None:
        self.what, self.bound, self.seen = what, bound, 0

    def add(self, count: int) -> None:
        self.seen += count
        if self.seen > self.bound:
            raise Invalid(f"{self.what} has more than {self.bound} positions")


def _check(geometry: dict[str, Any], what: str, counter: _Counter) -> None:
    kind = geometry["type"]
    coordinates = geometry.get("coordinates")
    if coordinates is None:
        raise Invalid(f"{what}: a {kind} needs coordinates")
    if kind == "Point":
        _position(coordinates, what)
        counter.add(1)
    elif kind in ("MultiPoint", "LineString"):
        _positions(coordinates, what, counter, at_least=2 if kind == "LineString" else 1)
    elif kind == "MultiLineString":
        for line in _list(coordinates, what, kind):
            _positions(line, what, counter, at_least=2)
    elif kind == "Polygon":
        _polygon(coordinates, what, counter)
    else:
        for polygon in _list(coordinates, what, kind):
            _polygon(polygon, what, counter)


def _list(value: Any, what: str, kind: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise Invalid(f"{what}: the coordinates of a {kind} are not nested as GeoJSON says")
    return value


def _polygon(rings: Any, what: str, counter: _Counter) -> None:
    for ring in _list(rings, what, "Polygon"):
        _positions(ring, what, counter, at_least=4)
        if ring[0][:2] != ring[-1][:2]:
            raise Invalid(f"{what}: a polygon's ring must end where it starts")


def _positions(value: Any, what: str, counter: _Counter, at_least: int) -> None:
    if not isinstance(value, list) or len(value) < at_least:
        raise Invalid(f"{what}: needs at least {at_least} positions where it has fewer")
    counter.add(len(value))
    for position in value:
        _position(position, what)


def _position(value: Any, what: str) -> None:
    if (
        not isinstance(value, list)
        or len(value) not in (2, 3)
        or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in value)
        or not all(math.isfinite(n) for n in value)
    ):
        raise Invalid(f"{what}: a position is two or three numbers [longitude, latitude]")
    longitude, latitude = value[0], value[1]
    if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
        raise Invalid(f"{what}: positions must be within longitude -180..180, latitude -90..90")
