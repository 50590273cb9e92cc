"""A GitLab project as a STAC item, following SharingHub's mapping (docs/items.md says every
rule and where labstac differs): the project record gives identity and dates, the README's
front matter gives extent, license, providers, links, extensions and assets, the category's
asset rules pick files from the repository tree.

Bad content never stops indexing: whatever is wrong (front matter, geometry, an extension, an
asset rule) is left out, and said in ``properties["labstac:warnings"]``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import orjson
import pystac

from indexer.gitlab.snapshot import ProjectSnapshot
from indexer.mlflow.models import RegisteredModel
from indexer.stac.assets import build_assets, preview_asset, raw_url
from indexer.stac.categories import RELEASE_FORMATS, Catalog, Category
from indexer.stac.front_matter import parse_readme
from indexer.stac.geometry import spatial_extent
from indexer.stac.limits import ContentLimits
from indexer.stac.mlflow_links import MlflowSite, mlflow_links
from indexer.stac.queryables import KNOWN_EXTENSIONS, TYPED_PROPERTIES, UNPREFIXED
from indexer.stac.readme_text import (
    FileUrls,
    citations,
    description,
    is_relative,
    repository_path,
)
from indexer.untrusted import clean_strings

log = logging.getLogger(__name__)

STAC_VERSION = "1.1.0"

SCI = KNOWN_EXTENSIONS["sci"]
# A link's href "<collection>+<project URL>" names that project's item (SharingHub's form).
_ITEM_REFERENCE = re.compile(r"^(?P<collection>[a-z0-9][a-z0-9_-]{0,63})\+(?P<url>https?://\S+)$")

# GitLab's license keys as SPDX ids (the ones that differ from upper-casing the key).
SPDX = {
    "agpl-3.0": "AGPL-3.0", "apache-2.0": "Apache-2.0", "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause", "bsl-1.0": "BSL-1.0", "cc0-1.0": "CC0-1.0",
    "cc-by-4.0": "CC-BY-4.0", "epl-2.0": "EPL-2.0", "gpl-2.0": "GPL-2.0", "gpl-3.0": "GPL-3.0",
    "lgpl-2.1": "LGPL-2.1", "lgpl-3.0": "LGPL-3.0", "mit": "MIT", "mpl-2.0": "MPL-2.0",
    "unlicense": "Unlicense",
}  # fmt: skip
# Front-matter keys the mapping consumes; any other key is copied into the properties.
CONSUMED = {
    "preview", "license", "license-url", "extent", "providers", "links", "related", "assets",
    "extensions", "sharinghub",
}  # fmt: skip
DATE_KEYS = ("datetime", "start_datetime", "end_datetime", "created", "updated")
MAX_DESCRIPTION = 20_000
_BLANK_LINES = re.compile(r"\n{3,}")


def doc_key(collection: str, project_id: int) -> str:
    """Stable ``_id`` and sort tie-breaker: renames and transfers update in place."""
    return f"{collection}:{project_id}"


def fingerprint(project: dict[str, Any]) -> str:
    """What reconcile compares to skip an unchanged project: what both the project list and
    the single project record carry, including ``last_activity_at``, which moves with every
    push (the license, only in the single record, changes with a push too)."""
    keys = (
        "path_with_namespace", "name", "description", "topics", "visibility",
        "repository_access_level", "default_branch", "last_activity_at", "archived",
        "star_count", "shared_with_groups",
    )  # fmt: skip
    material = json.dumps({key: project.get(key) for key in keys}, sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ItemBuilder:
    """Builds the items of one project snapshot, one per category it belongs to."""

    def __init__(
        self,
        catalog: Catalog,
        gitlab_url: str,
        limits: ContentLimits | None = None,
        mlflow: MlflowSite | None = None,
    ) -> None:
        self.catalog = catalog
        self.gitlab_url = gitlab_url.rstrip("/")
        self.mlflow = mlflow
        self.extensions = {**KNOWN_EXTENSIONS, **catalog.extensions}
        self.limits = limits or ContentLimits()

    def build(
        self,
        snapshot: ProjectSnapshot,
        category: Category,
        member_of: Sequence[Category] = (),
        models: Sequence[RegisteredModel] = (),
    ) -> dict[str, Any]:
        """The project's item in ``category``, with the asset rules of every category it is
        ``member_of`` (so its assets do not depend on where it is read), and its registered
        MLflow ``models``. A README no rule foresaw (anything that makes building fail)
        costs the item its README's content, never the item: it is built again without
        it, and says so."""
        member_of = member_of or (category,)
        try:
            return self._build(snapshot, category, member_of, models)
        except Exception as error:
            if snapshot.readme is None:
                raise
            log.warning(
                "the README could not be used",
                extra={"project": snapshot.project.get("path_with_namespace"),
                       "error": type(error).__name__},
            )  # fmt: skip
            bare = replace(snapshot, readme=None)
            document = self._build(bare, category, member_of, models)
            _warn(document["properties"], f"the README could not be used ({type(error).__name__})")
            return document

    def _build(
        self,
        snapshot: ProjectSnapshot,
        category: Category,
        member_of: Sequence[Category],
        models: Sequence[RegisteredModel],
    ) -> dict[str, Any]:
        project = snapshot.project
        warnings: list[str] = []
        readme = parse_readme(
            snapshot.readme,
            max_bytes=self.limits.front_matter_max_bytes,
            max_depth=self.limits.front_matter_max_depth,
        )
        warnings += readme.warnings
        meta = dict(readme.metadata)
        web_url = str(project.get("web_url") or "")
        files = FileUrls(web_url, str(project.get("default_branch") or "HEAD")) if web_url else None

        properties: dict[str, Any] = {
            "title": project.get("name"),
            "description": self._description(readme.body, _title(meta, project), files)
            or str(project.get("description") or "")[:MAX_DESCRIPTION],
            "created": project.get("created_at"),
            "updated": project.get("last_activity_at"),
            "keywords": [
                t for t in project.get("topics", []) if t.lower() not in self.catalog.topics
            ],
        }
        geometry, bbox = self._extent(meta.get("extent"), properties, warnings)
        properties["providers"] = self._providers(meta.get("providers"), project, warnings)
        license_id, license_url = self._license(meta, project)
        if license_id:
            properties["license"] = license_id
        extensions, prefixes = self._extensions(meta, properties, warnings)
        properties.update(self._sharinghub(meta.get("sharinghub"), project, snapshot, category))
        free = [key for key in meta if key not in CONSUMED and key not in prefixes]
        for key in free:
            properties[key] = meta[key]
        if any(key in properties for key in UNPREFIXED["version"]):
            extensions.add(KNOWN_EXTENSIONS["version"])
        links = self._links(meta, project, license_url, warnings)
        self._citations(readme.body, properties, extensions, links)
        self._clean_dates(properties, project, warnings)
        self._time_range(properties, project, warnings)
        _clean_typed(properties, warnings)

        rules = [
            *((f"category {member.id} asset rule {n}", rule)
              for member in member_of for n, rule in enumerate(member.assets, start=1)),
            *((f"README asset rule {n}", rule)
              for n, rule in enumerate(_as_list(meta.get("assets"), "assets", warnings), start=1)),
        ]  # fmt: skip
        assets, asset_warnings = build_assets(
            rules, snapshot, self.gitlab_url,
            max_rules=self.limits.asset_rules_max, glob_max_chars=self.limits.glob_max_chars,
        )  # fmt: skip
        warnings += asset_warnings
        release = self._release_asset(snapshot)
        if release:
            assets["release"] = release
        if self.mlflow and any(c.features.get("mlflow") == "enable" for c in member_of):
            model_links, model_assets = mlflow_links(
                self.mlflow, str(project["path_with_namespace"]), models,
                checkpoint_role=KNOWN_EXTENSIONS["ml-model"] in extensions,
            )  # fmt: skip
            links += model_links
            assets.update(model_assets)
        preview = preview_asset(meta.get("preview"), readme.body, snapshot, self.gitlab_url)
        if preview:
            key, asset = preview
            assets[key] = asset
            links.append({"rel": "preview", "href": asset["href"], "type": asset.get("type")})
        if warnings:
            properties["labstac:warnings"] = warnings

        datetime_value = _moment(properties.pop("datetime", None)) or datetime.now(UTC)
        item = pystac.Item(
            id=str(project["path_with_namespace"]),
            geometry=geometry,
            bbox=bbox,
            datetime=datetime_value,
            properties=properties,
            stac_extensions=sorted(extensions),
            collection=category.id,
        )
        for link in links:
            item.add_link(pystac.Link.from_dict({k: v for k, v in link.items() if v is not None}))
        for key, asset in assets.items():
            item.add_asset(key, pystac.Asset.from_dict(asset))
        document: dict[str, Any] = item.to_dict(include_self_link=False, transform_hrefs=False)
        document["stac_version"] = STAC_VERSION
        return self._bounded(document, free)

    def _bounded(self, document: dict[str, Any], free: list[str]) -> dict[str, Any]:
        """The document with valid Unicode in every string, and within the size limit:
        past it, the README's free properties go first, then the description's length,
        then assets and links beyond GitLab's own, then the geometry (for its bbox)."""
        document, repaired = clean_strings(document)
        properties = document["properties"]
        if repaired:
            _warn(properties, f"{repaired} text value(s) held invalid Unicode, replaced by U+FFFD")
        bound = self.limits.item_max_bytes
        for what, cut in _CUTS:
            if _size(document) <= bound:
                break
            cut(document, free)
            _warn(properties, f"the item was larger than {bound} bytes: left out {what}")
        return document

    # ------------------------------------------------------------ pieces

    @staticmethod
    def _description(body: str, title: str, files: FileUrls | None) -> str:
        # Cut before rewriting (the rewriting is linear, but the README may be megabytes),
        # and after (absolute URLs are longer).
        text = description(body[: 2 * MAX_DESCRIPTION], title, files)
        return _BLANK_LINES.sub("\n\n", text).strip()[:MAX_DESCRIPTION]

    @staticmethod
    def _time_range(
        properties: dict[str, Any], project: dict[str, Any], warnings: list[str]
    ) -> None:
        """The item's time range, always both ends (STAC requires them together): the
        README's, an open end filled from the project's life (created, last activity), and
        without any, the project's life, as SharingHub does."""
        created = _moment(project.get("created_at"))
        active = _moment(project.get("last_activity_at"))
        start = _moment(properties.get("start_datetime"))
        end = _moment(properties.get("end_datetime"))
        if start and end and start > end:
            warnings.append("start_datetime is after end_datetime: the project's life is used")
            start = end = None
        if start is None and end is None:
            start, end = created, active
        elif end is None:
            end = max(start, active) if start and active else start
        elif start is None:
            start = min(end, created) if end and created else end
        if start is None or end is None:
            properties.pop("start_datetime", None)
            properties.pop("end_datetime", None)
            return
        properties["start_datetime"], properties["end_datetime"] = _iso(start), _iso(end)

    @staticmethod
    def _citations(
        body: str, properties: dict[str, Any], extensions: set[str], links: list[dict[str, Any]]
    ) -> None:
        """The scientific extension from the DOIs the README cites (front matter ``sci:``
        values win): the first as ``sci:doi`` and ``sci:citation``, the others as
        ``sci:publications``."""
        cited = citations(body)
        if cited and "sci:doi" not in properties:
            properties["sci:doi"] = cited[0].doi
            if cited[0].citation and "sci:citation" not in properties:
                properties["sci:citation"] = cited[0].citation
            cited = cited[1:]
        if cited and "sci:publications" not in properties:
            properties["sci:publications"] = [
                {"doi": c.doi, **({"citation": c.citation} if c.citation else {})} for c in cited
            ]
        if properties.get("sci:doi") or properties.get("sci:publications"):
            extensions.add(SCI)
        if isinstance(properties.get("sci:doi"), str):
            links.append({"rel": "cite-as", "href": f"https://doi.org/{properties['sci:doi']}"})

    def _extent(
        self, extent: Any, properties: dict[str, Any], warnings: list[str]
    ) -> tuple[dict[str, Any] | None, list[float] | None]:
        if extent is None:
            return None, None
        if not isinstance(extent, dict):
            warnings.append("extent must be a mapping with spatial and temporal")
            return None, None
        temporal = extent.get("temporal")
        if temporal is not None:
            moments = temporal if isinstance(temporal, list) else []
            start = _moment(moments[0]) if len(moments) == 2 and moments[0] else None
            end = _moment(moments[1]) if len(moments) == 2 and moments[1] else None
            if len(moments) != 2 or (moments[0] and not start) or (moments[1] and not end):
                warnings.append("extent.temporal must be [start, end], ISO 8601 dates or null")
            elif start and end and start > end:
                warnings.append("extent.temporal starts after it ends")
            else:
                if start:
                    properties["start_datetime"] = _iso(start)
                if end:
                    properties["end_datetime"] = _iso(end)
        spatial = extent.get("spatial")
        if spatial is None:
            return None, None
        geometry, bbox, problem = spatial_extent(spatial, self.limits.geometry_max_positions)
        if problem:
            warnings.append(f"extent.spatial: {problem}")
        return geometry, bbox

    def _providers(
        self, given: Any, project: dict[str, Any], warnings: list[str]
    ) -> list[dict[str, Any]]:
        providers = []
        for provider in _as_list(given, "providers", warnings):
            if not isinstance(provider, dict) or not isinstance(provider.get("name"), str):
                warnings.append("each provider needs a name")
                continue
            kept = dict(provider)
            if not _strings(kept.get("roles", [])):
                warnings.append(f"provider {kept['name'][:80]}: roles must be a list of words")
                del kept["roles"]
            providers.append(kept)
        roles = {role for p in providers for role in p.get("roles", [])}
        if "host" not in roles:
            providers.append({"name": f"GitLab ({self.gitlab_url})", "roles": ["host"],
                              "url": project.get("web_url") or self.gitlab_url})  # fmt: skip
        if "producer" not in roles:
            top = str(project.get("path_with_namespace", "")).split("/", 1)[0]
            namespace = project.get("namespace") or {}
            name = str(project.get("name_with_namespace") or namespace.get("name") or top)
            providers.append({"name": name.split("/", maxsplit=1)[0].strip(), "roles": ["producer"],
                              "url": f"{self.gitlab_url}/{top}"})  # fmt: skip
        return providers

    @staticmethod
    def _license(meta: dict[str, Any], project: dict[str, Any]) -> tuple[str | None, str | None]:
        gitlab_license = project.get("license") or {}
        key = str(gitlab_license.get("key") or "")
        license_id = meta.get("license") if isinstance(meta.get("license"), str) else None
        license_id = license_id or (SPDX.get(key, key.upper()) if key else None)
        url = meta.get("license-url") if isinstance(meta.get("license-url"), str) else None
        url = url or project.get("license_url")
        if license_id and not url:
            url = f"https://spdx.org/licenses/{license_id}.html"
        return license_id, url

    def _extensions(
        self, meta: dict[str, Any], properties: dict[str, Any], warnings: list[str]
    ) -> tuple[set[str], set[str]]:
        """The schemas of the extensions the README uses, and every prefix it may use."""
        declared = meta.get("extensions") or {}
        if not isinstance(declared, dict):
            warnings.append("extensions must map a prefix to a schema URL")
            declared = {}
        own = {}
        for prefix, url in declared.items():
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                own[str(prefix)] = url
            else:
                warnings.append(f"extension '{prefix}' needs a schema URL")
        available = {**own, **self.extensions}  # a configured prefix wins over the README's
        for unprefixed in UNPREFIXED:  # its properties have no prefix: they pass through
            available.pop(unprefixed, None)
        used: set[str] = set()
        for prefix, schema in available.items():
            values = meta.get(prefix)
            if not values:
                continue
            if not isinstance(values, dict):
                warnings.append(f"'{prefix}' must be a mapping of {prefix}: properties")
                continue
            for key, value in values.items():
                properties[f"{prefix}:{key}"] = value
            used.add(schema)
        return used, set(available)

    @staticmethod
    def _sharinghub(
        given: Any, project: dict[str, Any], snapshot: ProjectSnapshot, category: Category
    ) -> dict[str, Any]:
        files = snapshot.files
        values: dict[str, Any] = {
            "id": project.get("id"),
            "name": project.get("name_with_namespace"),
            "path": project.get("path_with_namespace"),
            "stars": project.get("star_count", 0),
            "default-branch": project.get("default_branch"),
            "dvc-init": "enable" if any(f.startswith(".dvc/") for f in files) else "disable",
            **category.features,
        }
        if isinstance(given, dict):
            values.update(given)
        return {f"sharinghub:{key}": value for key, value in values.items()}

    def _links(
        self,
        meta: dict[str, Any],
        project: dict[str, Any],
        license_url: str | None,
        warnings: list[str],
    ) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = []
        web_url = str(project.get("web_url") or "")
        if web_url:
            links.append({"rel": "via", "href": web_url, "type": "text/html",
                          "title": "GitLab project"})  # fmt: skip
            links.append({"rel": "bug_tracker", "href": f"{web_url}/issues", "type": "text/html",
                          "title": "Bug Tracker"})  # fmt: skip
        for link in _as_list(meta.get("links"), "links", warnings):
            if not isinstance(link, dict) or not isinstance(link.get("href"), str):
                warnings.append("each link needs an href")
                continue
            kept = {"rel": str(link.get("rel", "related")), **link}
            href = link["href"].strip()
            reference = _ITEM_REFERENCE.match(href)
            item_href = reference and self._item_href(reference["collection"], reference["url"])
            if item_href:
                kept.update(href=item_href, type="application/geo+json")
            elif is_relative(href):
                path = repository_path(href.split("?", 1)[0].split("#", 1)[0])
                if path is None:
                    warnings.append(f"link '{href[:80]}' leaves the repository")
                    continue
                kept["href"] = raw_url(self.gitlab_url, project, path)
            elif not href.startswith(("http://", "https://")):
                warnings.append(f"link '{href[:80]}' is neither a URL nor a repository file")
                continue
            links.append(kept)
        related = meta.get("related") or {}
        if not isinstance(related, dict):
            warnings.append("related must map a collection id to project URLs")
            related = {}
        for collection, urls in related.items():
            for url in urls if isinstance(urls, list) else [urls]:
                item_href = self._item_href(str(collection), url) if isinstance(url, str) else None
                if item_href is None:
                    warnings.append(f"related {collection}: '{str(url)[:80]}' is not a project URL")
                    continue
                links.append({"rel": "derived_from", "href": item_href,
                              "type": "application/geo+json",
                              "title": f"{collection}: {_item_path(url)}"})  # fmt: skip
        if license_url:
            links.append({"rel": "license", "href": license_url})
        return links

    def _item_href(self, collection: str, url: str) -> str | None:
        """The href of the item of the project at ``url`` in ``collection``, relative to the
        STAC root (the API makes it absolute when it serves the item); None when ``url`` is
        not a project URL. A project of another site keeps its URL."""
        if not url.startswith(("http://", "https://")) or not _item_path(url):
            return None
        if not url.startswith(self.gitlab_url + "/"):
            return url
        path = _item_path(url.removeprefix(self.gitlab_url))
        return f"collections/{quote(collection, safe='')}/items/{quote(path, safe='/')}"

    @staticmethod
    def _clean_dates(
        properties: dict[str, Any], project: dict[str, Any], warnings: list[str]
    ) -> None:
        """Date properties must be dates: a front-matter value that is not is dropped."""
        for key in DATE_KEYS:
            if key not in properties:
                continue
            moment = _moment(properties[key])
            if moment is None:
                if properties[key] is not None:
                    warnings.append(f"{key} is not an ISO 8601 date")
                del properties[key]
            else:
                properties[key] = _iso(moment)
        properties.setdefault("datetime", project.get("last_activity_at"))

    def _release_asset(self, snapshot: ProjectSnapshot) -> dict[str, Any] | None:
        release = snapshot.latest_release
        if not release or not release.get("tag_name"):
            return None
        tag = str(release["tag_name"])
        project_id = snapshot.project["id"]
        archive = self.catalog.release_format
        asset = {
            "href": f"{self.gitlab_url}/api/v4/projects/{project_id}/repository/"
            f"archive.{archive}?sha={quote(tag, safe='')}",
            "title": f"Release {tag}: {release.get('name') or tag}",
            "roles": ["source"],
            "type": RELEASE_FORMATS[archive],
        }
        if release.get("description"):
            asset["description"] = str(release["description"])[:2000]
        return asset


def _title(meta: dict[str, Any], project: dict[str, Any]) -> str:
    """The item's title: the front matter's, else the project's name."""
    given = meta.get("title")
    return given if isinstance(given, str) and given.strip() else str(project.get("name") or "")


def _item_path(url: str) -> str:
    """A project's path from its URL: the URL's path without its slashes and any GitLab
    page below the project (``/-/tree/main``)."""
    path = urlsplit(url).path if "://" in url else url.split("?", 1)[0].split("#", 1)[0]
    return unquote(path.split("/-/", 1)[0]).strip("/")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _warn(properties: dict[str, Any], warning: str) -> None:
    properties.setdefault("labstac:warnings", []).append(warning)


def _size(document: dict[str, Any]) -> int:
    return len(orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS, default=str))


def _drop_free(document: dict[str, Any], free: list[str]) -> None:
    for key in free:
        if key not in _KEPT_PROPERTIES:
            document["properties"].pop(key, None)


def _shorten(document: dict[str, Any], free: list[str]) -> None:
    properties = document["properties"]
    if isinstance(properties.get("description"), str):
        properties["description"] = properties["description"][:2000]


def _drop_extras(document: dict[str, Any], free: list[str]) -> None:
    document["assets"] = {
        k: v for k, v in document.get("assets", {}).items() if k.startswith(_OWN_ASSETS)
    }
    document["links"] = [
        link for link in document.get("links", []) if link.get("rel") in _OWN_LINK_RELS
    ]


def _to_bbox(document: dict[str, Any], free: list[str]) -> None:
    bbox = document.get("bbox")
    if bbox and len(bbox) == 4:
        west, south, east, north = bbox
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        document["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    else:
        document["geometry"], document["bbox"] = None, None


_CUTS: list[tuple[str, Callable[[dict[str, Any], list[str]], None]]] = [
    ("the README's own properties", _drop_free),
    ("the description, shortened", _shorten),
    ("assets and links", _drop_extras),
    ("the geometry, for its bounding box", _to_bbox),
]
# What an oversized item keeps: its core properties (a README may set them too), GitLab's
# own links and the assets labstac makes itself.
_KEPT_PROPERTIES = frozenset({"title", "description", *DATE_KEYS, "keywords", "license"})
_OWN_ASSETS = ("preview", "release")  # key prefixes: preview.png
_OWN_LINK_RELS = frozenset({"via", "bug_tracker", "license", "cite-as", "preview"})


def _clean_typed(properties: dict[str, Any], warnings: list[str]) -> None:
    """Queryable properties the index types must have that type (a README may say anything)."""
    for key, kind in TYPED_PROPERTIES.items():
        value = properties.get(key)
        if value is None or _has_type(value, kind):
            continue
        # What YAML makes of what people write: `version: 1.2` is a number, `tasks: x` one
        # value where a list is meant. Kept, in the type the index and the schemas expect.
        scalar = isinstance(value, str | int | float) and not isinstance(value, bool)
        if kind == "string" and scalar:
            properties[key] = str(value)
        elif kind == "array" and scalar:
            properties[key] = [value]
        else:
            warnings.append(f"{key} must be {_TYPE_NAMES[kind]}")
            del properties[key]


_TYPE_NAMES = {"string": "a string", "number": "a number", "integer": "an integer",
               "boolean": "true or false", "array": "a list of values"}  # fmt: skip


def _has_type(value: Any, kind: str) -> bool:
    if kind == "array":
        return isinstance(value, list) and all(
            isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
        )
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, str if kind == "string" else int | float)


def _as_list(value: Any, name: str, warnings: list[str]) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    warnings.append(f"{name} must be a list")
    return []


def build_documents(
    builder: ItemBuilder,
    snapshot: ProjectSnapshot,
    categories: Sequence[Category],
    access_fields: dict[str, Any],
    models: Sequence[RegisteredModel] = (),
) -> dict[str, dict[str, Any]]:
    """The index documents of a project: its item in each category, plus labstac's fields."""
    project_id = int(snapshot.project["id"])
    documents = {}
    for category in categories:
        document = builder.build(snapshot, category, categories, models)
        document["doc_key"] = doc_key(category.id, project_id)
        document["labstac"] = {
            "project_id": project_id,
            "name": snapshot.project.get("name"),  # SharingHub's /api/check answers it
            "web_url": snapshot.project.get("web_url"),
            "fingerprint": fingerprint(snapshot.project),
        }
        document["_acl"] = access_fields
        documents[category.id] = document
    return documents
