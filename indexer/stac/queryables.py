"""What a filter, the query extension and /queryables may name: each queryable's index field
and the JSON Schema of its values.

The core queryables hold for every item. Each STAC extension labstac knows brings its own
(the MLM model's framework and tasks, a label's type, a version...), mapped in
mappings/items.json; /queryables lists those of the extensions the items in reach use.
Properties of extensions a categories file adds are kept on items but not indexed, so they
are not queryable.
"""

from __future__ import annotations

from typing import Any

KNOWN_EXTENSIONS = {
    "mlm": "https://stac-extensions.github.io/mlm/v1.4.0/schema.json",
    "ml-model": "https://stac-extensions.github.io/ml-model/v1.0.0/schema.json",
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "label": "https://stac-extensions.github.io/label/v1.0.1/schema.json",
    "sci": "https://stac-extensions.github.io/scientific/v1.0.0/schema.json",
    "version": "https://stac-extensions.github.io/version/v1.2.0/schema.json",
}

# Extensions whose properties have no prefix (a README writes `version: 1.2.0`), by prefix.
UNPREFIXED = {"version": ("version", "deprecated")}

Queryables = dict[str, tuple[str, dict[str, Any]]]  # name -> (index field, JSON Schema)

_TEXT = {"type": "string"}
_TEXTS = {"type": "array", "items": {"type": "string"}}
_DATE = {"type": "string", "format": "date-time"}
_COUNT = {"type": "integer", "minimum": 0}
_FLAG = {"type": "boolean"}

CORE: Queryables = {
    "id": ("id", {"type": "string", "description": "The project's full path"}),
    "collection": ("collection", _TEXT),
    "geometry": ("geometry", {"$ref": "https://geojson.org/schema/Geometry.json"}),
    "datetime": ("properties.datetime", _DATE),
    "start_datetime": ("properties.start_datetime", _DATE),
    "end_datetime": ("properties.end_datetime", _DATE),
    "created": ("properties.created", _DATE),
    "updated": ("properties.updated", _DATE),
    "title": ("properties.title.keyword", _TEXT),
    "description": ("properties.description.keyword", _TEXT),
    "keywords": ("properties.keywords", _TEXTS),
    "license": ("properties.license", _TEXT),
    "platform": ("properties.platform", _TEXT),
    "constellation": ("properties.constellation", _TEXT),
    "mission": ("properties.mission", _TEXT),
    "instruments": ("properties.instruments", _TEXTS),
    "gsd": ("properties.gsd", {"type": "number", "exclusiveMinimum": 0}),
}


def _own(schemas: dict[str, dict[str, Any]]) -> Queryables:
    return {name: (f"properties.{name}", schema) for name, schema in schemas.items()}


# Extension prefix -> its queryables; the schemas follow each extension's own JSON Schema.
BY_EXTENSION: dict[str, Queryables] = {
    "mlm": _own({
        "mlm:name": _TEXT, "mlm:architecture": _TEXT, "mlm:framework": _TEXT,
        "mlm:framework_version": _TEXT, "mlm:tasks": _TEXTS, "mlm:accelerator": _TEXT,
        "mlm:accelerator_constrained": _FLAG, "mlm:pretrained": _FLAG,
        "mlm:pretrained_source": _TEXT, "mlm:total_parameters": _COUNT,
        "mlm:memory_size": _COUNT, "mlm:batch_size_suggestion": _COUNT,
    }),
    "ml-model": _own({
        "ml-model:type": _TEXT, "ml-model:learning_approach": _TEXT,
        "ml-model:prediction_type": _TEXT, "ml-model:architecture": _TEXT,
        "ml-model:training-processor-type": _TEXT, "ml-model:training-os": _TEXT,
    }),
    "eo": _own({
        "eo:cloud_cover": {"type": "number", "minimum": 0, "maximum": 100},
        "eo:snow_cover": {"type": "number", "minimum": 0, "maximum": 100},
    }),
    "label": _own({
        "label:type": {"type": "string", "enum": ["vector", "raster"]},
        "label:tasks": _TEXTS, "label:methods": _TEXTS,
    }),
    "sci": _own({"sci:doi": _TEXT}),
    "version": _own({"version": _TEXT, "deprecated": _FLAG}),
}  # fmt: skip

ALL: Queryables = {**CORE}
for _queryables in BY_EXTENSION.values():
    ALL.update(_queryables)

# Properties a README sets freely that the index types: one of another type is left out of
# the item (with a warning) rather than failing its indexing.
TYPED_PROPERTIES = {
    name: str(schema["type"])
    for name, (field, schema) in ALL.items()
    if field.startswith("properties.") and schema.get("format") != "date-time"
}


def in_use(extension_urls: list[str]) -> Queryables:
    """The core queryables and those of the known extensions among these schema URLs."""
    # By the extension's home, not its exact URL: another version of it brings the same.
    used = {
        prefix
        for prefix, url in KNOWN_EXTENSIONS.items()
        if any(u.startswith(url.rsplit("/v", 1)[0] + "/") for u in extension_urls)
    }
    chosen = dict(CORE)
    for prefix in sorted(used):
        chosen.update(BY_EXTENSION[prefix])
    return chosen


def schema(url: str, title: str, queryables: Queryables) -> dict[str, Any]:
    """The JSON Schema document /queryables answers."""
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": url,
        "type": "object",
        "title": title,
        "properties": {name: spec for name, (_, spec) in queryables.items()},
        "additionalProperties": False,
    }
