"""README front matter: the YAML block between ``---`` lines at the very top of a README,
which is where project authors describe their model or dataset (SharingHub's convention).

Any GitLab user writes it, so it is read as hostile input: a block larger than the limit is
not read, anchors and aliases are refused (a few hundred bytes of aliases expand into
gigabytes: "billion laughs"), nesting is bounded while YAML composes it (PyYAML recurses),
and what YAML builds is turned into JSON's types (dates into ISO text; sets, binary data and
numbers JSON cannot hold are dropped), with valid Unicode in every string.

Bad content never raises: a malformed block yields no metadata and a warning that says
where it broke."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from indexer.untrusted import load_yaml, valid_text

_BLOCK = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*\r?$\n?", re.S | re.M)
_INT64 = 2**63


@dataclass
class ParsedReadme:
    metadata: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    warnings: list[str] = field(default_factory=list)


def parse_readme(
    text: str | None, *, max_bytes: int = 64 * 1024, max_depth: int = 16
) -> ParsedReadme:
    if not text:
        return ParsedReadme()
    found = _BLOCK.match(text)
    if found is None:
        return ParsedReadme(body=text)
    body = text[found.end() :]
    block = found.group(1)
    metadata: Any = None
    if len(block.encode("utf-8", "surrogatepass")) > max_bytes:
        problem: str | None = f"README front matter is larger than {max_bytes} bytes: not read"
    else:
        metadata, problem = load_yaml(block, max_depth, first_line=2)
        problem = f"README front matter {problem}" if problem else None
    if problem is None and metadata is not None and not isinstance(metadata, dict):
        problem = "README front matter is not a mapping of keys to values"
    if problem is not None or metadata is None:
        return ParsedReadme(body=body, warnings=[problem] if problem else [])
    warnings: list[str] = []
    return ParsedReadme(metadata=_as_json(metadata, warnings), body=body, warnings=warnings)


def _as_json(value: Any, warnings: list[str], path: str = "") -> Any:
    """What YAML built, in JSON's types (``_DROPPED`` for what JSON cannot hold). Nesting
    is bounded by the loader, so this recursion is too."""
    if isinstance(value, dict):
        converted = {
            valid_text(key if isinstance(key, str) else _scalar_key(key)): _as_json(
                item, warnings, f"{path}{key}."
            )
            for key, item in value.items()
        }
        return {k: v for k, v in converted.items() if v is not _DROPPED}
    if isinstance(value, list):
        return [v for v in (_as_json(item, warnings, path) for item in value) if v is not _DROPPED]
    scalar = _scalar(value)
    if scalar is _DROPPED:
        kind = type(value).__name__
        warnings.append(
            f"{path.rstrip('.')[:80] or 'a value'}: a {kind} JSON cannot hold, left out"
        )
    return scalar


def _scalar(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        # The index and most clients hold 64-bit integers; larger ones stay as text, as far
        # as Python writes integers as text (4,300 digits).
        if -_INT64 <= value < _INT64:
            return value
        try:
            return str(value)
        except ValueError:
            return _DROPPED
    if isinstance(value, float) and not math.isfinite(value):
        return _DROPPED
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | float) or value is None:
        return value
    return _DROPPED  # sets, binary data


def _scalar_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, dt.date):
        return key.isoformat()
    return "null" if key is None else str(key)


_DROPPED = object()
