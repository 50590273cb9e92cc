"""Collection search: ``q``, ``bbox``, ``datetime``, ``limit`` (and a page ``token``) on
``GET /collections``. The catalog holds a handful of categories whose extents depend on the
caller, so they are matched here, after being built for that caller, not in the index."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.stac_params import (
    DEFAULT_LIMIT,
    parse_bbox,
    parse_datetime,
    parse_limit,
    parse_q,
    refuse_unknown,
)
from indexer.errors import Invalid
from indexer.search.limits import DEFAULT_LIMITS, SearchLimits
from indexer.search.request import DatetimeRange, bbox_corners

COLLECTION_SEARCH_PARAMETERS = ("bbox", "datetime", "q", "limit", "token")
_WORD = re.compile(r"[\w:-]+")  # keeps topics such as sharinghub:dataset whole
_OFFSET = re.compile(r"^[0-9]{1,6}$")


@dataclass(frozen=True)
class CollectionSearch:
    bbox: tuple[float, ...] | None = None
    datetime: DatetimeRange | None = None
    q: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def parse_collection_search(
    values: dict[str, str], limits: SearchLimits = DEFAULT_LIMITS
) -> CollectionSearch:
    refuse_unknown(values, COLLECTION_SEARCH_PARAMETERS)
    token = values.get("token", "0")
    # An offset into a few collections: ASCII digits only ("²".isdigit() is true too).
    if not _OFFSET.match(token):
        raise Invalid("token must be the token of a next link")
    return CollectionSearch(
        bbox=parse_bbox(values.get("bbox"), from_query=True),
        datetime=parse_datetime(values.get("datetime")),
        q=parse_q(values.get("q"), limits),
        limit=parse_limit(values.get("limit")),
        offset=int(token),
    )


def _longitudes(west: float, east: float) -> list[tuple[float, float]]:
    """A box's longitude span as plain intervals; one across the antimeridian is two."""
    return [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]


def _boxes_meet(a: tuple[float, ...], b: list[float]) -> bool:
    a_west, a_south, a_east, a_north = bbox_corners(a)
    b_west, b_south, b_east, b_north = b
    if a_south > b_north or b_south > a_north:
        return False
    return any(
        lo1 <= hi2 and lo2 <= hi1
        for lo1, hi1 in _longitudes(a_west, a_east)
        for lo2, hi2 in _longitudes(b_west, b_east)
    )


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def matches(search: CollectionSearch, collection: dict[str, Any], located: bool) -> bool:
    """Whether a collection, as the caller sees it, answers the search. ``located`` says its
    spatial extent comes from items: an extent-less collection is the whole world only by
    default, and meets no bbox."""
    extent = collection["extent"]
    if search.bbox is not None and not (
        located and _boxes_meet(search.bbox, extent["spatial"]["bbox"][0])
    ):
        return False
    if search.datetime is not None:
        first, last = (_moment(t) for t in extent["temporal"]["interval"][0])
        if first is None or last is None:
            return False
        if search.datetime.start is not None and last < search.datetime.start:
            return False
        if search.datetime.end is not None and first > search.datetime.end:
            return False
    if search.q:
        text = " ".join([collection["title"], collection["description"], *collection["keywords"]])
        words = set(_WORD.findall(text.lower()))
        if not any(word in words for term in search.q for word in _WORD.findall(term.lower())):
            return False
    return True
