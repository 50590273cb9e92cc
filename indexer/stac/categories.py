"""Categories: each is a STAC collection, and a GitLab project belongs to it when it carries
the category's topic. They come from a YAML file in SharingHub's format (``categories:`` a
list of ``{id: {title, description, gitlab_topic, logo, icon, locales, assets, features}}``,
and ``extensions:`` prefix -> schema URL); ``indexer/stac/categories.yaml`` holds the defaults.

A malformed file stops the program at start with the file, the line and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from indexer.errors import SettingsInvalid

DEFAULT_FILE = Path(__file__).with_name("categories.yaml")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FEATURE_VALUES = {"enable", "disable"}


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    gitlab_topic: str
    description: str = ""
    logo: str | None = None
    icon: str | None = None
    locales: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    assets: tuple[Any, ...] = ()  # asset rules: a glob string or a mapping (docs/items.md)
    features: Mapping[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(frozen=True)
class Catalog:
    categories: tuple[Category, ...]
    extensions: Mapping[str, str] = field(default_factory=dict)

    def by_id(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    @cached_property
    def topics(self) -> frozenset[str]:
        return frozenset(c.gitlab_topic.lower() for c in self.categories)


def categories_of(topics: Iterable[str], categories: Iterable[Category]) -> list[Category]:
    """The categories a project with these topics belongs to (GitLab topics ignore case)."""
    lowered = {topic.lower() for topic in topics}
    return [category for category in categories if category.gitlab_topic.lower() in lowered]


class _Problem(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _value(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def _text(node: yaml.MappingNode, key: str, required: bool) -> str | None:
    for key_node, value_node in node.value:
        if key_node.value == key:
            value = _value(value_node)
            if not isinstance(value, str) or not value.strip():
                raise _Problem(_line(value_node), f"'{key}' must be a non-empty string")
            return value
    if required:
        raise _Problem(_line(node), f"'{key}' is required")
    return None


def _category(id_node: yaml.Node, body: yaml.Node) -> Category:
    category_id = str(id_node.value)
    if not _ID.match(category_id):
        raise _Problem(
            _line(id_node),
            f"category id '{category_id}' must be lower-case letters, digits, - or _",
        )
    if not isinstance(body, yaml.MappingNode):
        raise _Problem(_line(body), f"category '{category_id}' must be a mapping")
    known = {
        "title",
        "description",
        "gitlab_topic",
        "logo",
        "icon",
        "locales",
        "assets",
        "features",
    }
    for key_node, _ in body.value:
        if key_node.value not in known:
            raise _Problem(
                _line(key_node), f"unknown key '{key_node.value}' in category '{category_id}'"
            )
    values = {
        key_node.value: (value_node, _value(value_node)) for key_node, value_node in body.value
    }
    locales = values.get("locales", (body, {}))[1] or {}
    if not isinstance(locales, dict) or not all(isinstance(v, dict) for v in locales.values()):
        raise _Problem(
            _line(values["locales"][0]), "'locales' maps a language to {title, description}"
        )
    assets = values.get("assets", (body, []))[1] or []
    if not isinstance(assets, list) or not all(isinstance(a, str | dict) for a in assets):
        raise _Problem(_line(values["assets"][0]), "'assets' is a list of globs or asset rules")
    features = values.get("features", (body, {}))[1] or {}
    if not isinstance(features, dict) or not set(map(str, features.values())) <= _FEATURE_VALUES:
        raise _Problem(_line(values["features"][0]), "'features' maps a name to enable or disable")
    return Category(
        id=category_id,
        title=_text(body, "title", required=True) or category_id,
        gitlab_topic=_text(body, "gitlab_topic", required=True) or "",
        description=_text(body, "description", required=False) or "",
        logo=_text(body, "logo", required=False),
        icon=_text(body, "icon", required=False),
        locales=locales,
        assets=tuple(assets),
        features={str(k): str(v) for k, v in features.items()},
    )


def _catalog(text: str) -> Catalog:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise _Problem(
            int(mark.line) + 1 if mark else 1, str(getattr(error, "problem", error))
        ) from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise _Problem(1, "the file must be a mapping with a 'categories' list")
    top = {key_node.value: value_node for key_node, value_node in root.value}
    if "stac" in top and "categories" not in top:  # a whole SharingHub configuration
        stac = top["stac"]
        top = {k.value: v for k, v in stac.value} if isinstance(stac, yaml.MappingNode) else {}
    node = top.get("categories")
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise _Problem(_line(node or root), "'categories' must be a non-empty list")
    categories: list[Category] = []
    for entry in node.value:
        if not isinstance(entry, yaml.MappingNode) or len(entry.value) != 1:
            raise _Problem(_line(entry), "each category is a mapping of one id to its definition")
        category = _category(*entry.value[0])
        if any(c.id == category.id for c in categories):
            raise _Problem(_line(entry), f"category '{category.id}' is defined twice")
        if any(c.gitlab_topic.lower() == category.gitlab_topic.lower() for c in categories):
            raise _Problem(
                _line(entry), f"topic '{category.gitlab_topic}' belongs to two categories"
            )
        categories.append(category)
    extensions_node = top.get("extensions")
    extensions = _value(extensions_node) if extensions_node is not None else {}
    if not isinstance(extensions, dict) or not all(
        isinstance(v, str) and v.startswith(("http://", "https://")) for v in extensions.values()
    ):
        raise _Problem(_line(extensions_node or root), "'extensions' maps a prefix to a schema URL")
    return Catalog(tuple(categories), {str(k): str(v) for k, v in extensions.items()})


def load_catalog(path: Path | None) -> Catalog:
    """The categories of ``path``, or labstac's defaults; ``SettingsInvalid`` names the line."""
    if path is None:
        text = DEFAULT_FILE.read_text(encoding="utf-8")
        name = "indexer/stac/categories.yaml"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise SettingsInvalid(
                f"LABSTAC_CATEGORIES_FILE: cannot read {path}: {error.strerror}"
            ) from None
        name = str(path)
    try:
        return _catalog(text)
    except _Problem as problem:
        raise SettingsInvalid(f"{name}: line {problem.line}: {problem.reason}") from None


DEFAULT_CATALOG = load_catalog(None)
DEFAULT_CATEGORIES = DEFAULT_CATALOG.categories
