"""OpenSearch index templates and settings, as JSON files beside this module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load(name: str) -> dict[str, Any]:
    """The parsed JSON document ``<name>.json`` of this package."""
    text = (Path(__file__).parent / f"{name}.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document
