"""Registered models as items link them: which project a model belongs to, its title and
asset key, where its files are in the run's artifacts."""

from __future__ import annotations

import pytest

from indexer.mlflow.client import _artifact_directory
from indexer.mlflow.models import RegisteredModel, project_of
from indexer.stac.mlflow_links import MlflowSite, mlflow_links


@pytest.mark.parametrize(
    ("name", "project"),
    [("Flood UNet (1)", 1), ("a (b) (42)", 42), ("Flood UNet", None), ("x (1) y", None),
     ("(7)", 7), ("big (1234567890123456789)", None)],
)  # fmt: skip
def test_a_model_belongs_to_the_project_its_name_ends_with(name: str, project: int | None) -> None:
    assert project_of(name) == project


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("/srv/artifacts/1/abc/artifacts/model", "model"),  # an artifact root named artifacts
        ("mlflow-artifacts:/1/abc/artifacts/nested/model", "nested/model"),
        ("s3://bucket/artifacts/1/abc/artifacts/model", "model"),
        ("runs:/abc/model", "model"),
        ("models:/m-123", None),  # MLflow 3's logged models: no run path
    ],
)
def test_the_model_directory_in_the_run(source: str, expected: str | None) -> None:
    assert _artifact_directory(source, "abc") == expected


def test_links_and_assets_as_sharinghub_makes_them() -> None:
    site = MlflowSite("https://mlflow.example.com/", "mlflow-sharinghub")
    model = RegisteredModel("Flood UNet (1)", "3", "abc", "model/model.pkl")
    bare = RegisteredModel("Other (1)", "1", "def", None)  # its MLmodel was unreadable
    links, assets = mlflow_links(site, "eo/flood model", [model, bare], checkpoint_role=True)
    tracking = "https://mlflow.example.com/eo/flood%20model/tracking/"
    assert links[0] == {"rel": "mlflow:tracking-uri", "href": tracking,
                        "title": "MLflow - Tracking URI"}  # fmt: skip
    assert links[1] == {
        "rel": "mlflow:model", "href": f"{tracking}#/models/Flood%20UNet%20%281%29/versions/3",
        "title": "Flood UNet v3", "mlflow:uri": "models:/Flood UNet (1)/3",
    }  # fmt: skip
    assert [link["title"] for link in links[2:]] == ["Other v1"]
    assert assets == {
        "flood-unet-v3.pkl": {
            "href": f"{tracking}get-artifact?path=model%2Fmodel.pkl&run_uuid=abc",
            "title": "Flood UNet v3", "roles": ["data", "ml-model:checkpoint"],
            "type": "application/octet-stream; framework=scikit-learn; profile=pickle",
        }
    }  # fmt: skip
