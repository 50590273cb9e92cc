"""An item's geometry from a README's ``extent.spatial``: a bbox ``[west, south, east, north]``
or WKT, cleaned with shapely (invalid rings repaired, longitudes and latitudes checked)."""

from __future__ import annotations

import json
from typing import Any

import shapely
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import box, mapping
from shapely.validation import make_valid


class _Refused(ValueError):
    pass


def _shape(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 4 or not all(isinstance(v, int | float) for v in value):
            raise _Refused("a bbox is four numbers [west, south, east, north]")
        west, south, east, north = (float(v) for v in value)
        if south > north:
            raise _Refused("the bbox's south is above its north")
        return box(min(west, east), south, max(west, east), north, ccw=True)
    if isinstance(value, str):
        try:
            return wkt.loads(value)
        except (ShapelyError, ValueError) as error:
            raise _Refused(f"not a WKT geometry ({type(error).__name__})") from None
    raise _Refused("give a bbox list or a WKT string")


def spatial_extent(value: Any) -> tuple[dict[str, Any] | None, list[float] | None, str | None]:
    """(GeoJSON geometry, bbox, problem): on a problem, no geometry."""
    try:
        geometry = _shape(value)
        if geometry.is_empty:
            raise _Refused("the geometry is empty")
        if not geometry.is_valid:
            geometry = make_valid(geometry)
        west, south, east, north = geometry.bounds
        if west < -180 or east > 180 or south < -90 or north > 90:
            raise _Refused("coordinates are outside longitude -180..180, latitude -90..90")
    except _Refused as problem:
        return None, None, str(problem)
    geometry = shapely.set_precision(geometry, 1e-9)
    return json.loads(json.dumps(mapping(geometry))), [west, south, east, north], None
