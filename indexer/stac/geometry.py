"""An item's geometry from a README's ``extent.spatial``: a bbox ``[west, south, east, north]``
or WKT, checked with shapely (two dimensions, finite coordinates within longitude -180..180
and latitude -90..90, a valid shape).

WKT goes to GEOS, native code that recurses: its nesting and size are bounded before it
parses (a WKT nested tens of thousands deep crashed the worker). No geometry type nests
deeper than a GEOMETRYCOLLECTION of MULTIPOLYGONs: four levels of parentheses. An invalid
shape (a ring that crosses itself) is not repaired: repairing a few thousand random points
took GEOS minutes and gigabytes; the item gets the shape's bounding box instead, and a
warning.

Polygons leave here counterclockwise (RFC 7946), whatever way the README wrote them."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import box, mapping

from indexer.untrusted import bracket_depth

WKT_MAX_DEPTH = 4


class _Refused(ValueError):
    pass


def _shape(value: Any, max_positions: int) -> Any:
    if isinstance(value, list):
        if len(value) != 4 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            raise _Refused("a bbox is four numbers [west, south, east, north]")
        west, south, east, north = (float(v) for v in value)
        if south > north:
            raise _Refused("the bbox's south is above its north")
        return box(min(west, east), south, max(west, east), north, ccw=True)
    if isinstance(value, str):
        _check_wkt(value, max_positions)
        try:
            return wkt.loads(value)
        except (ShapelyError, ValueError) as error:
            raise _Refused(f"not a WKT geometry ({type(error).__name__})") from None
    raise _Refused("give a bbox list or a WKT string")


def _check_wkt(text: str, max_positions: int) -> None:
    if bracket_depth(text) > WKT_MAX_DEPTH:
        raise _Refused(f"the WKT nests deeper than {WKT_MAX_DEPTH} levels of parentheses")
    if text.count(",") + 1 > max_positions:
        raise _Refused(f"the WKT has more than {max_positions} positions")
    # Positions with 20 significant digits each are long; beyond that is padding.
    if len(text) > 64 * max_positions:
        raise _Refused(f"the WKT is longer than {64 * max_positions} characters")


def spatial_extent(
    value: Any, max_positions: int = 50_000
) -> tuple[dict[str, Any] | None, list[float] | None, str | None]:
    """(GeoJSON geometry, bbox, problem): on a problem, no geometry, or only its bbox."""
    try:
        geometry = _shape(value, max_positions)
        if geometry.is_empty:
            raise _Refused("the geometry is empty")
        geometry = shapely.force_2d(geometry)
        coordinates = shapely.get_coordinates(geometry)
        if not np.isfinite(coordinates).all():
            raise _Refused("coordinates must be finite numbers")
        west, south, east, north = (float(v) for v in geometry.bounds)
        if west < -180 or east > 180 or south < -90 or north > 90:
            raise _Refused("coordinates are outside longitude -180..180, latitude -90..90")
        problem = None
        if not geometry.is_valid:
            problem = f"the shape is not valid ({shapely.is_valid_reason(geometry)[:80]}): "
            problem += "the item has its bounding box instead"
            geometry = geometry.envelope
    except _Refused as refused:
        return None, None, str(refused)
    except (ShapelyError, ValueError) as error:
        return None, None, f"not a usable geometry ({type(error).__name__})"
    # RFC 7946 3.1.6: outer rings counterclockwise, holes clockwise. The engine reads a
    # clockwise ring wider than 180 degrees as one crossing the antimeridian. Only rings the
    # wrong way round are reversed; the README's coordinates are kept as written.
    geometry = shapely.orient_polygons(geometry, exterior_cw=False)
    return json.loads(json.dumps(mapping(geometry))), [west, south, east, north], problem
