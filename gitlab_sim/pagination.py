"""GitLab's two pagination styles, as doc/api/rest/_index.md describes them.

Offset: ``page``/``per_page`` (default 20, max 100), ``Link`` with prev/next/first/last,
``X-Page``, ``X-Per-Page``, ``X-Next-Page``/``X-Prev-Page`` (empty when there is none),
``X-Total``/``X-Total-Pages`` (and ``rel="last"``) left out past 10,000 results, and 405
beyond an offset of 50,000 on endpoints that also offer keyset pagination.

Keyset: ``pagination=keyset`` with ``order_by=id`` (projects) or a ``page_token`` (tree): only
a ``Link: <...>; rel="next"`` header, on every non-empty page for projects (so clients get a
final empty page) and only on full pages for the tree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
COUNT_LIMIT = 10_000  # past this, GitLab skips the total headers
OFFSET_LIMIT = 50_000  # doc/administration/instance_limits.md


class PaginationError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


@dataclass
class Page:
    items: list[Any]
    headers: dict[str, str]


def per_page_of(params: dict[str, str]) -> int:
    try:
        value = int(params.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        raise PaginationError(400, {"error": "per_page is invalid"}) from None
    if value < 1:
        return DEFAULT_PER_PAGE
    return min(value, MAX_PER_PAGE)


def _link(base_url: str, params: dict[str, str], **changes: Any) -> str:
    merged = {**params, **{key: str(value) for key, value in changes.items()}}
    return f"{base_url}?{urlencode(merged)}"


def offset_page(
    items: Sequence[T],
    params: dict[str, str],
    base_url: str,
    *,
    offset_limited: bool = False,
) -> Page:
    per_page = per_page_of(params)
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        raise PaginationError(400, {"error": "page is invalid"}) from None
    if offset_limited and page * per_page > OFFSET_LIMIT:
        raise PaginationError(
            405,
            {
                "error": f"Offset pagination has a maximum allowed offset of {OFFSET_LIMIT} "
                "for requests that return objects of type Project. Remaining records can be "
                "retrieved using keyset pagination."
            },
        )
    total = len(items)
    total_pages = max(1, -(-total // per_page))
    start = (page - 1) * per_page
    chosen = list(items[start : start + per_page])
    counted = total <= COUNT_LIMIT
    has_next = start + per_page < total
    links = []
    if page > 1:
        links.append(f'<{_link(base_url, params, page=page - 1, per_page=per_page)}>; rel="prev"')
    if has_next:
        links.append(f'<{_link(base_url, params, page=page + 1, per_page=per_page)}>; rel="next"')
    links.append(f'<{_link(base_url, params, page=1, per_page=per_page)}>; rel="first"')
    if counted:
        links.append(
            f'<{_link(base_url, params, page=total_pages, per_page=per_page)}>; rel="last"'
        )
    headers = {
        "Link": ", ".join(links),
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Next-Page": str(page + 1) if has_next else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
    }
    if counted:
        headers["X-Total"] = str(total)
        headers["X-Total-Pages"] = str(total_pages)
    return Page(chosen, headers)


def keyset_by_id(
    items: Sequence[T], params: dict[str, str], base_url: str, id_of: Callable[[T], int]
) -> Page:
    """Keyset pagination over ``order_by=id``: the next link carries ``id_after`` (ascending)
    or ``id_before`` (descending, the default)."""
    if params.get("order_by", "id") != "id":
        raise PaginationError(
            405, {"error": "Keyset pagination is not yet available for this type of request"}
        )
    per_page = per_page_of(params)
    descending = params.get("sort", "desc") != "asc"
    # The caller has applied id_after/id_before, which are ordinary filters of /projects.
    ordered = sorted(items, key=id_of, reverse=descending)
    chosen = ordered[:per_page]
    headers: dict[str, str] = {}
    if chosen:
        last = id_of(chosen[-1])
        following = {k: v for k, v in params.items() if k not in ("id_after", "id_before")}
        key = "id_before" if descending else "id_after"
        following[key] = str(last)
        headers["Link"] = f'<{_link(base_url, following)}>; rel="next"'
    return Page(chosen, headers)


def keyset_by_token(
    items: Sequence[T], params: dict[str, str], base_url: str, token_of: Callable[[T], str]
) -> Page:
    """Keyset pagination with an opaque ``page_token`` (the repository tree): the next link
    appears only when the page is full."""
    per_page = per_page_of(params)
    token = params.get("page_token")
    start = 0
    if token:
        for index, item in enumerate(items):
            if token_of(item) == token:
                start = index + 1
                break
    chosen = list(items[start : start + per_page])
    headers: dict[str, str] = {}
    if len(chosen) == per_page and start + per_page < len(items):
        following = {**params, "page_token": token_of(chosen[-1])}
        headers["Link"] = f'<{_link(base_url, following)}>; rel="next"'
    return Page(chosen, headers)
