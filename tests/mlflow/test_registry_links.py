"""Registered MLflow models in items, as SharingHub links them, from a real MLflow tracking
server: a model registered for a project (MLflow SharingHub's "<name> (<project id>)")
appears in the project's item within one registry pass of a real worker; a new version
replaces it; a deleted model goes; MLflow down keeps the links and says so in
`labstac status`."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from mlflow_server import MlflowServer, start_mlflow
from support import LABSTAC_BIN, ApiServer, WorkerProcess, settings_env, wait_until

from gitlab_sim.demo import TOKENS, demo_world, fill_gitlab_url
from gitlab_sim.server import SimulatorServer
from indexer.index.runtime import IndexRuntime
from indexer.settings import Settings
from workers.app import create_celery_app

pytestmark = pytest.mark.services

FLOOD = "eo-lab/models/flood-segmentation"  # project 1, an ai-model: MLflow enabled
ITEM = f"/api/v1/stac/collections/ai-model/items/{FLOOD}"


@pytest.fixture
def mlflow(tmp_path: Path) -> Iterator[MlflowServer]:
    server = start_mlflow(tmp_path / "mlflow")
    yield server
    server.stop()


def item(api: ApiServer) -> dict[str, Any]:
    response = httpx.get(f"{api.url}{ITEM}", headers={"PRIVATE-TOKEN": TOKENS["root"]})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def model_links(found: dict[str, Any]) -> list[dict[str, Any]]:
    return [link for link in found["links"] if link["rel"] == "mlflow:model"]


def run_pass(settings: Settings) -> None:
    app = create_celery_app(settings)
    try:
        app.send_task("labstac.workers.mlflow.registry_pass")
    finally:
        app.close()  # type: ignore[attr-defined]


@pytest.fixture
def demo_with_mlflow(
    mlflow: MlflowServer,
    make_runtime: Callable[..., IndexRuntime],
    start_api: Callable[..., ApiServer],
    start_worker: Callable[[Settings], WorkerProcess],
) -> Iterator[Callable[..., tuple[Settings, ApiServer]]]:
    """The demo GitLab indexed with MLflow links on (settings overrides), its API and a
    worker."""
    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> tuple[Settings, ApiServer]:
            world = demo_world()
            sim = stack.enter_context(SimulatorServer(world))
            fill_gitlab_url(world)
            runtime = make_runtime(sim, token_name="root-demo", mlflow_url=mlflow.url,
                                   **overrides)  # fmt: skip
            assert runtime.rebuild().run().swapped
            start_worker(runtime.settings)
            return runtime.settings, start_api(runtime.settings)

        yield make


def test_registered_models_come_and_go_with_the_registry(
    mlflow: MlflowServer, demo_with_mlflow: Callable[..., tuple[Settings, ApiServer]]
) -> None:
    settings, api = demo_with_mlflow(mlflow_type="mlflow")

    # Before any model: the tracking URI only (SharingHub links it for every project
    # of a category with MLflow enabled).
    before = item(api)
    assert [ln for ln in before["links"] if ln["rel"] == "mlflow:tracking-uri"] == [
        {"rel": "mlflow:tracking-uri", "href": f"{mlflow.url}/",
         "title": "MLflow - Tracking URI"}
    ]  # fmt: skip
    assert model_links(before) == []

    run_id = mlflow.log_model("Flood UNet (1)", FLOOD)
    mlflow.log_model("Someone else's model", "elsewhere")  # no project: not linked
    run_pass(settings)
    wait_until(lambda: len(model_links(item(api))) == 1, 60, "the model's link")
    found = item(api)
    page = f"{mlflow.url}/#/models/Flood%20UNet%20%281%29/versions/1"
    assert model_links(found) == [{
        "rel": "mlflow:model", "href": page,
        "title": "Flood UNet v1", "mlflow:uri": "models:/Flood UNet (1)/1",
    }]  # fmt: skip
    asset = found["assets"]["flood-unet-v1.pkl"]
    assert asset["title"] == "Flood UNet v1" and asset["roles"] == ["data"]
    query = parse_qs(urlsplit(asset["href"]).query)
    assert query == {"path": ["model/model.pkl"], "run_uuid": [run_id]}
    # The asset is the model file MLflow serves.
    served = httpx.get(asset["href"], timeout=30)
    stored = next((mlflow.root / "artifacts").rglob(f"{run_id}/artifacts/model/model.pkl"))
    assert served.status_code == 200 and served.content == stored.read_bytes()

    # A new version replaces the old one.
    mlflow.log_model("Flood UNet (1)", FLOOD, weight=2.0)
    run_pass(settings)
    wait_until(lambda: [ln["title"] for ln in model_links(item(api))] == ["Flood UNet v2"],
               60, "the new version")  # fmt: skip
    assert "flood-unet-v2.pkl" in item(api)["assets"]
    assert "flood-unet-v1.pkl" not in item(api)["assets"]

    # MLflow down: the pass fails, the item keeps its links, and status says so.
    mlflow.stop()
    run_pass(settings)
    wait_until(lambda: "FAILED" in status_line(settings), 60, "the failed pass")
    assert [ln["title"] for ln in model_links(item(api))] == ["Flood UNet v2"]


def test_a_deleted_model_leaves_the_item(
    mlflow: MlflowServer, demo_with_mlflow: Callable[..., tuple[Settings, ApiServer]]
) -> None:
    settings, api = demo_with_mlflow()
    mlflow.log_model("Flood UNet (1)", FLOOD)
    run_pass(settings)
    wait_until(lambda: len(model_links(item(api))) == 1, 60, "the model's link")
    # MLflow SharingHub's own addresses: one tracking URI per project.
    tracking = f"{mlflow.url}/{FLOOD}/tracking/"
    assert model_links(item(api))[0]["href"].startswith(f"{tracking}#/models/")
    assert "1 model(s) of 1 project(s)" in status_line(settings)
    mlflow.delete_model("Flood UNet (1)")
    run_pass(settings)
    wait_until(lambda: model_links(item(api)) == [], 60, "the link to go")
    assert not any(key.startswith("flood-unet") for key in item(api)["assets"])


def status_line(settings: Settings) -> str:
    done = subprocess.run([LABSTAC_BIN, "status"], env=settings_env(settings),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return next((line for line in done.stdout.splitlines() if line.startswith("mlflow")), "")
