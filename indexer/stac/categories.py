"""Categories: each is a STAC collection, and a GitLab project belongs to it when it carries
the category's topic. They come from a YAML file in SharingHub's format (``categories:`` a
list of ``{id: {title, description, gitlab_topic, logo, icon, locales, assets, features}}``,
and ``extensions:`` prefix -> schema URL); ``indexer/stac/categories.yaml`` holds the defaults.

A whole SharingHub configuration works too: its ``stac:`` section gives the categories and
extensions, and ``stac.projects`` the release archive format; ``gitlab.url`` must name the
GitLab labstac reads. What labstac has no use for is named in a log line, never silently
dropped; a ``stac.projects`` setting it does not know is refused.

A malformed file stops the program at start with the file, the line and the reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from indexer.errors import SettingsInvalid

log = logging.getLogger(__name__)

DEFAULT_FILE = Path(__file__).with_name("categories.yaml")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FEATURE_VALUES = {"enable", "disable"}
# GitLab's archive formats a release asset may link (SharingHub's release-source-format).
RELEASE_FORMATS = {
    "zip": "application/zip",
    "tar.gz": "application/gzip",
    "tar.bz2": "application/x-bzip2",
    "tar": "application/x-tar",
}


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
    release_format: str = "zip"  # the archive a release asset links
    notices: tuple[str, ...] = ()  # what the file holds that labstac does not use

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


def _catalog(text: str, gitlab_url: str | None) -> Catalog:
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
    notices: list[str] = []
    release_format = "zip"
    if "stac" in top and "categories" not in top:  # a whole SharingHub configuration
        _check_gitlab(top.get("gitlab"), gitlab_url)
        notices += [f"'{key}' (SharingHub's own)" for key in top if key not in ("stac", "gitlab")]
        stac = top["stac"]
        if not isinstance(stac, yaml.MappingNode):
            raise _Problem(_line(stac), "'stac' must be a mapping with a 'categories' list")
        top = {k.value: v for k, v in stac.value}
        release_format, more = _projects(top.get("projects"))
        notices += more
        notices += [
            f"'stac.{key}'" for key in top if key not in ("categories", "extensions", "projects")
        ]
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
    return Catalog(
        tuple(categories),
        {str(k): str(v) for k, v in extensions.items()},
        release_format=release_format,
        notices=tuple(notices),
    )


def _check_gitlab(node: yaml.Node | None, gitlab_url: str | None) -> None:
    """A SharingHub configuration describes one GitLab: it must be the one labstac reads."""
    if node is None or gitlab_url is None:
        return
    url = _value(node).get("url") if isinstance(node, yaml.MappingNode) else None
    if url is None:
        return
    if not isinstance(url, str) or url.rstrip("/") != gitlab_url.rstrip("/"):
        raise _Problem(
            _line(node),
            f"gitlab.url is {str(url)[:200]!r} but labstac reads {gitlab_url.rstrip('/')!r} "
            "(LABSTAC_GITLAB_URL): the categories would describe another GitLab",
        )


def _projects(node: yaml.Node | None) -> tuple[str, list[str]]:
    """SharingHub's ``stac.projects``: the release archive format, and notices."""
    if node is None:
        return "zip", []
    values = _value(node)
    if not isinstance(values, dict):
        raise _Problem(_line(node), "'stac.projects' must be a mapping")
    notices = []
    release_format = "zip"
    for key, value in values.items():
        if key == "cache-timeout":
            # SharingHub caches its answers; labstac's index is its cache, kept by hooks.
            notices.append("'stac.projects.cache-timeout' (labstac's index follows GitLab)")
        elif (
            key == "assets" and isinstance(value, dict) and set(value) <= {"release-source-format"}
        ):
            given = str(value.get("release-source-format", "zip")).lower().lstrip(".")
            if given not in RELEASE_FORMATS:
                raise _Problem(
                    _line(node),
                    f"stac.projects.assets.release-source-format must be one of "
                    f"{', '.join(RELEASE_FORMATS)}, not {given[:40]!r}",
                )
            release_format = given
        else:
            raise _Problem(
                _line(node),
                f"'stac.projects.{str(key)[:60]}' is not a setting labstac knows "
                "(it reads assets.release-source-format and cache-timeout)",
            )
    return release_format, notices


def load_catalog(path: Path | None, gitlab_url: str | None = None) -> Catalog:
    """The categories of ``path``, or labstac's defaults; ``SettingsInvalid`` names the line.
    ``gitlab_url`` is the GitLab labstac reads, which a SharingHub configuration must name."""
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
        catalog = _catalog(text, gitlab_url)
    except _Problem as problem:
        raise SettingsInvalid(f"{name}: line {problem.line}: {problem.reason}") from None
    if catalog.notices:
        log.info(
            "parts of the categories file are not used by labstac",
            extra={"file": name, "unused": ", ".join(catalog.notices)},
        )
    return catalog


DEFAULT_CATALOG = load_catalog(None)
DEFAULT_CATEGORIES = DEFAULT_CATALOG.categories
