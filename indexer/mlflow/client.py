"""MLflow's REST API (``/api/2.0/mlflow``) and artifact route, as labstac reads them: the
whole model registry a page at a time, and a model version's MLmodel file. Every answer is
bounded in size and nesting before it is parsed (a registry is anyone's to write to), and
the token goes in a header, never a URL or a log."""

from __future__ import annotations

import logging
import posixpath
from typing import Any
from urllib.parse import urlsplit

import httpx

from indexer.errors import UpstreamUnavailable
from indexer.mlflow.models import RegisteredModel
from indexer.untrusted import load_json, load_yaml

log = logging.getLogger(__name__)

SERVICE = "MLflow"
PAGE_SIZE = 1000  # the registry search's own maximum
MAX_PAGES = 500  # 500,000 registered models: far beyond any registry labstac serves
MAX_ANSWER_BYTES = 16 * 1024 * 1024
MAX_MLMODEL_BYTES = 256 * 1024
MAX_DEPTH = 32


class MlflowClient:
    def __init__(self, url: str, token: str | None, timeout_seconds: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout_seconds
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MlflowClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def registered_models(self) -> list[dict[str, Any]]:
        """Every registered model with its latest versions, as MLflow lists them."""
        models: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"max_results": PAGE_SIZE}
            if token:
                params["page_token"] = token
            page = self._json("/api/2.0/mlflow/registered-models/search", params)
            found = page.get("registered_models") or []
            models += [m for m in found if isinstance(m, dict)]
            token = page.get("next_page_token")
            if not token or not isinstance(token, str):
                return models
        raise UpstreamUnavailable(SERVICE, f"the registry has more than {MAX_PAGES} pages")

    def latest(
        self, model: dict[str, Any], known: RegisteredModel | None
    ) -> RegisteredModel | None:
        """The model's newest version, with its model file (read again only when the version
        is not the one ``known`` already describes); None for a model with no version."""
        versions = [v for v in model.get("latest_versions") or [] if isinstance(v, dict)]
        if not versions or not isinstance(model.get("name"), str):
            return None
        newest = max(versions, key=_version_number)
        name, version = str(model["name"]), str(newest.get("version"))
        if known is not None and (known.name, known.version, bool(known.artifact_file)) == (
            name, version, True,
        ):  # fmt: skip
            return known
        run_id = newest.get("run_id") if isinstance(newest.get("run_id"), str) else None
        artifact_file = None
        directory = _artifact_directory(str(newest.get("source") or ""), run_id or "")
        if run_id and directory is not None:
            artifact_file = self._model_file(run_id, directory)
        return RegisteredModel(name, version, run_id, artifact_file)

    def _model_file(self, run_id: str, directory: str) -> str | None:
        """The model's file in the run's artifacts, from its MLmodel (the python_function
        flavor's ``model_path``, else its ``data``, as SharingHub reads it)."""
        path = f"{directory}/MLmodel" if directory else "MLmodel"
        try:
            text = self._text("/get-artifact", {"path": path, "run_uuid": run_id})
        except UpstreamUnavailable as error:
            log.info(
                "an MLmodel file could not be read",
                extra={"run": run_id, "error": error.description},
            )
            return None
        document, problem = load_yaml(text, MAX_DEPTH)
        flavors = document.get("flavors") if isinstance(document, dict) else None
        function = flavors.get("python_function") if isinstance(flavors, dict) else None
        if problem or not isinstance(function, dict):
            return None
        relative = function.get("model_path") or function.get("data")
        if not isinstance(relative, str) or not relative.strip():
            return None
        joined = posixpath.normpath(posixpath.join(directory, relative.strip()))
        return None if joined.startswith(("..", "/")) else joined

    def _get(self, path: str, params: dict[str, Any], limit: int) -> bytes:
        try:
            with self._http.stream("GET", path, params=params) as response:
                if response.status_code != 200:
                    raise UpstreamUnavailable(SERVICE, f"{path} answered {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise UpstreamUnavailable(SERVICE, f"{path} answered over {limit} bytes")
                return bytes(body)
        except httpx.HTTPError as error:
            raise UpstreamUnavailable(SERVICE, f"not reachable ({type(error).__name__})") from None

    def _json(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        body = self._get(path, params, MAX_ANSWER_BYTES)
        try:
            value = load_json(body, max_depth=MAX_DEPTH, what=f"MLflow's answer to {path}")
        except Exception as error:
            raise UpstreamUnavailable(SERVICE, f"{path} answered no JSON") from error
        if not isinstance(value, dict):
            raise UpstreamUnavailable(SERVICE, f"{path} answered no JSON object")
        return value

    def _text(self, path: str, params: dict[str, Any]) -> str:
        return self._get(path, params, MAX_MLMODEL_BYTES).decode("utf-8", "replace")


def _version_number(version: dict[str, Any]) -> int:
    try:
        return int(str(version.get("version")))
    except ValueError:
        return -1


def _artifact_directory(source: str, run_id: str) -> str | None:
    """Where a model version's files are in its run's artifacts: what follows
    ``<run id>/artifacts/`` in its source (an artifact store's URI or path), or the path of
    a ``runs:/<run id>/<path>`` source."""
    if source.startswith("runs:/"):
        return source.removeprefix("runs:/").partition("/")[2].strip("/")
    path = urlsplit(source).path if "://" in source else source
    marker = f"{run_id}/artifacts/" if run_id else "/artifacts/"
    if marker not in path:
        return None
    return path.split(marker, 1)[1].strip("/")
