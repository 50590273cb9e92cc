"""A project's MLflow tracking URI and registered models in its item, as SharingHub 0.4.0
links them (app/stac/api/build.py): an ``mlflow:tracking-uri`` link; per registered model
(its latest version) an ``mlflow:model`` link to the model's page with its ``models:/``
URI, and an asset for the model's file, keyed by the model's title."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from indexer.mlflow.models import RegisteredModel
from indexer.stac.media_types import media_type

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class MlflowSite:
    url: str
    kind: str  # "mlflow-sharinghub": one tracking URI per project; "mlflow": one for all

    def tracking_uri(self, project_path: str) -> str:
        base = self.url.rstrip("/")
        if self.kind == "mlflow":
            return f"{base}/"
        return f"{base}/{quote(project_path, safe='/')}/tracking/"


def slugify(text: str) -> str:
    return _NOT_SLUG.sub("-", text.lower()).strip("-")


def mlflow_links(
    site: MlflowSite,
    project_path: str,
    models: Sequence[RegisteredModel],
    checkpoint_role: bool,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    tracking = site.tracking_uri(project_path)
    links: list[dict[str, Any]] = [
        {"rel": "mlflow:tracking-uri", "href": tracking, "title": "MLflow - Tracking URI"}
    ]
    assets: dict[str, dict[str, Any]] = {}
    roles = ["data", "ml-model:checkpoint"] if checkpoint_role else ["data"]
    for model in models:
        links.append({
            "rel": "mlflow:model",
            "href": f"{tracking}#/models/{quote(model.name, safe='')}/versions/{model.version}",
            "title": model.title,
            "mlflow:uri": f"models:/{model.name}/{model.version}",
        })  # fmt: skip
        if model.artifact_file and model.run_id:
            file_name = posixpath.basename(model.artifact_file)
            stem, extension = posixpath.splitext(file_name)
            key = f"{slugify(model.title)}{extension}" if stem else file_name
            query = urlencode({"path": model.artifact_file, "run_uuid": model.run_id})
            assets[key] = {
                "href": f"{tracking}get-artifact?{query}",
                "title": model.title,
                "roles": roles,
                "type": media_type(file_name) or "application/octet-stream",
            }
    return links, assets
