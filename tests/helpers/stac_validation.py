"""Offline STAC validation: an item against the STAC 1.1 item schema and the schema of every
extension it declares, with every ``$ref`` resolved from tests/fixtures/stac-schemas (laid
out by URL) and never from the network."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "stac-schemas"
ITEM_SCHEMA = "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json"


def _path_of(uri: str) -> Path:
    parts = urlsplit(uri)
    path = SCHEMAS / parts.netloc / parts.path.lstrip("/")
    if parts.netloc == "json-schema.org" and not path.suffix:
        path = path / "schema" if path.is_dir() else path
    return path


def _retrieve(uri: str) -> Resource[Any]:
    path = _path_of(uri)
    if not path.is_file():
        raise NoSuchResource(ref=uri)
    return Resource.from_contents(json.loads(path.read_text()))


@cache
def _registry() -> Registry[Any]:
    return Registry(retrieve=_retrieve)  # type: ignore[call-arg]


def validation_errors(item: dict[str, Any]) -> list[str]:
    """Every schema error of the item, as 'schema: path: message'."""
    errors: list[str] = []
    for uri in [ITEM_SCHEMA, *item.get("stac_extensions", [])]:
        if not _path_of(uri).is_file():
            errors.append(f"{uri}: no such schema offline")
            continue
        schema = json.loads(_path_of(uri).read_text())
        validator = Draft7Validator(schema, registry=_registry())
        for error in validator.iter_errors(item):
            # oneOf/anyOf failures say little; their closest sub-error says what is wrong.
            cause = best_match(error.context) if error.context else error
            where = "/".join(str(p) for p in cause.absolute_path)
            errors.append(f"{uri}: {where}: {cause.message[:300]}")
    return errors
