"""Item assets from asset rules (a category's, then the README's), SharingHub's format:

    - "*.tif"                                   a glob over the repository's files
    - glob: "models/*.onnx"                     (or path:), with optional
      key: "model-{path}"                       asset key ({path} templating; default: the path)
      title: "Model {key}"                      ({key} and {path} templating)
      description: ...
      roles: [data, mlm:model]                  (default [data])
      type-as: cog | type: <media type>         (default: from the file name)
      mlm:artifact_type: onnx                   any other key is copied onto the asset
    - key: visual                               an external asset: a key and an absolute href
      href: https://example.com/visual.tif

A glob matches like SharingHub's (``PurePath.match``: from the right, ``*`` within one path
segment); labstac also takes ``**`` as any number of segments (indexer.stac.globs, which
never backtracks). A project's rules are bounded in number and length. Hrefs of repository files are
GitLab's raw-file API URLs on the default branch with ``lfs=true`` (the real object, not the
pointer); they never carry a token.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import quote, urlsplit

from indexer.errors import Invalid
from indexer.gitlab.snapshot import ProjectSnapshot
from indexer.stac.globs import compile_glob, parts_of
from indexer.stac.media_types import COG, GEOTIFF, media_type
from indexer.stac.readme_text import is_relative, preview_image, repository_path

TYPE_AS = {
    "text": "text/plain",
    "json": "application/json",
    "xml": "application/xml",
    "yaml": "text/x-yaml",
    "zip": "application/zip",
    "geotiff": GEOTIFF,
    "cog": COG,
    "geojson": "application/geo+json",
    "compose": "text/x-yaml; application=compose",
    "notebook": "application/x-ipynb+json",
}
RULE_KEYS = {"glob", "path", "key", "title", "description", "roles", "type", "type-as", "href"}
MAX_ASSETS = 500
# Segment comparisons a project's rules may cost (indexer.stac.globs): a few seconds of CPU
# at worst. Usual rules on the largest tree labstac reads (20,000 files) cost far less.
MATCH_BUDGET = 3_000_000
_EXTENSION = re.compile(r"^\.[a-z0-9]{1,8}$")
_PREVIEW_FILES = ("preview.png", "preview.jpg", "preview.jpeg")


def raw_url(gitlab_url: str, project: dict[str, Any], path: str) -> str:
    branch = quote(str(project.get("default_branch") or "HEAD"), safe="")
    return (
        f"{gitlab_url}/api/v4/projects/{project['id']}/repository/files/"
        f"{quote(path, safe='')}/raw?ref={branch}&lfs=true"
    )


def _asset(rule: dict[str, Any], href: str, key: str, path: str) -> dict[str, Any]:
    asset: dict[str, Any] = {"href": href, "roles": list(rule.get("roles") or ["data"])}
    for field in ("title", "description"):
        if isinstance(rule.get(field), str):
            asset[field] = rule[field].replace("{key}", key).replace("{path}", path)
    kind = TYPE_AS.get(str(rule.get("type-as", ""))) or rule.get("type") or media_type(path or href)
    if kind:
        asset["type"] = kind
    for extra, value in rule.items():
        if extra not in RULE_KEYS:
            asset[extra] = value
    return asset


def build_assets(
    rules: list[tuple[str, Any]],
    snapshot: ProjectSnapshot,
    gitlab_url: str,
    *,
    max_rules: int = 100,
    glob_max_chars: int = 256,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Assets from (name, rule) pairs, in order: a later rule's asset replaces an earlier one
    with the same key. The names say which rule a warning is about."""
    assets: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    files = snapshot.files
    split = [parts_of(path) for path in files]
    budget = MATCH_BUDGET
    if len(rules) > max_rules:
        warnings.append(f"more than {max_rules} asset rules: the rest are left out")
        rules = rules[:max_rules]
    for name, given in rules:
        rule = _rule(name, given, warnings)
        if rule is None:
            continue
        pattern = rule.get("glob", rule.get("path"))
        if pattern is None:
            key, href = rule.get("key"), rule.get("href")
            if (
                not isinstance(key, str)
                or not isinstance(href, str)
                or not href.startswith(("http://", "https://"))
            ):
                warnings.append(f"{name} needs a glob, or a key and an absolute href")
                continue
            assets[key] = _asset(rule, href, key, "")
            continue
        if not isinstance(pattern, str):
            warnings.append(f"{name}: the glob must be a string")
            continue
        try:
            glob = compile_glob(pattern, glob_max_chars)
        except Invalid as problem:
            warnings.append(f"{name}: {problem.description}")
            continue
        budget -= sum(glob.cost(len(parts)) for parts in split)
        if budget < 0:
            warnings.append(f"{name} and the rules after it cost too much to match: left out")
            break
        for path, parts in zip(files, split, strict=True):
            if not glob.matches_parts(parts):
                continue
            given_key = rule.get("key")
            template = given_key if isinstance(given_key, str) else "{path}"
            key = template.replace("{path}", path)
            if key in assets and "{path}" not in template:
                key = path  # a fixed key names the first match; the others keep their paths
            assets[key] = _asset(rule, raw_url(gitlab_url, snapshot.project, path), key, path)
            if len(assets) >= MAX_ASSETS:
                warnings.append(f"more than {MAX_ASSETS} assets: the rest are left out")
                return assets, warnings
    return assets, warnings


def _rule(name: str, given: Any, warnings: list[str]) -> dict[str, Any] | None:
    """A rule as a mapping (a bare glob is one), with its roles a list of words."""
    rule = {"glob": given} if isinstance(given, str) else given
    if not isinstance(rule, dict):
        warnings.append(f"{name} is neither a glob nor a mapping")
        return None
    roles = rule.get("roles")
    if roles is not None and not (
        isinstance(roles, list) and all(isinstance(role, str) for role in roles)
    ):
        warnings.append(f"{name}: roles must be a list of words")
        rule = {k: v for k, v in rule.items() if k != "roles"}
    return rule


def preview_asset(
    given: Any, readme_body: str, snapshot: ProjectSnapshot, gitlab_url: str
) -> tuple[str, dict[str, Any]] | None:
    """The thumbnail and its key (``preview.png``: "preview" and the file's extension, as
    SharingHub names it): the last README image whose alt text is "preview", else the front
    matter's ``preview``, else a preview.png/jpg at the repository's root."""
    source = preview_image(readme_body) or given
    if not isinstance(source, str) or not source.strip():
        source = next((f for f in _PREVIEW_FILES if f in snapshot.files), None)
    if not source:
        return None
    source = source.strip()
    if source.startswith(("http://", "https://")):
        href = source
    elif is_relative(source) and (path := repository_path(source.split("?", 1)[0])):
        href = raw_url(gitlab_url, snapshot.project, path)
    else:
        return None
    asset = {"href": href, "title": "Preview", "roles": ["thumbnail"]}
    file_name = urlsplit(source).path
    kind = media_type(file_name)
    if kind:
        asset["type"] = kind
    extension = posixpath.splitext(posixpath.basename(file_name))[1].lower()
    return f"preview{extension if _EXTENSION.match(extension) else ''}", asset
