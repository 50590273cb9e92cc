"""README front matter: the YAML block between ``---`` lines at the very top of a README,
which is where project authors describe their model or dataset (SharingHub's convention).

Bad content never raises: a malformed block yields no metadata and a warning that says
where it broke."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_BLOCK = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*\r?$\n?", re.S | re.M)
# A DOI as a link (https://doi.org/10.x/y) or written out (doi:10.x/y).
_DOI = re.compile(r"(?:https?://(?:dx\.)?doi\.org/|\bdoi:\s*)(10\.\d{4,9}/[^\s)\]>\"']+)", re.I)


@dataclass
class ParsedReadme:
    metadata: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    warnings: list[str] = field(default_factory=list)


def parse_readme(text: str | None) -> ParsedReadme:
    if not text:
        return ParsedReadme()
    found = _BLOCK.match(text)
    if found is None:
        return ParsedReadme(body=text)
    body = text[found.end() :]
    try:
        metadata = yaml.safe_load(found.group(1))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        return ParsedReadme(
            body=body, warnings=[f"README front matter is not YAML{where}: {problem}"]
        )
    if metadata is None:
        return ParsedReadme(body=body)
    if not isinstance(metadata, dict):
        return ParsedReadme(
            body=body, warnings=["README front matter is not a mapping of keys to values"]
        )
    return ParsedReadme(metadata={str(k): v for k, v in metadata.items()}, body=body)


def first_doi(text: str) -> str | None:
    found = _DOI.search(text)
    return found.group(1).rstrip(".,;") if found else None
