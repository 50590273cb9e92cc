"""stac-api-validator, the STAC community's conformance checker, against the live API on a
real index: core, collections, features, item-search and its extensions, with pagination.
It validates every object against the STAC JSON schemas, served offline from
tests/fixtures. Then schemathesis fuzzes every operation of the API's own OpenAPI document:
no 5xx, and no response that the document does not describe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import ApiServer

from gitlab_sim.generator import generate
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import Project, World
from indexer.index.runtime import IndexRuntime

pytestmark = pytest.mark.services
OFFLINE = Path(__file__).resolve().parent.parent / "fixtures" / "offline-schemas"
VALIDATOR = str(Path(sys.executable).parent / "stac-api-validator")
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
WORLD = {
    "type": "Polygon",
    "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]],
}


@pytest.fixture
def live_api(
    start_api: Callable[..., ApiServer], make_runtime: Callable[..., IndexRuntime]
) -> Iterator[tuple[ApiServer, str]]:
    world = generate(seed=111, users=20, groups=12, projects=120)
    _make_newest_dataset_located_with_files(world)
    with SimulatorServer(world) as sim:
        runtime = make_runtime(sim)
        assert runtime.rebuild().run().swapped
        token = runtime.settings.gitlab_token
        assert token is not None
        yield start_api(runtime.settings), token.get_secret_value()


def _make_newest_dataset_located_with_files(world: World) -> None:
    """The validator's fields checks read the first dataset item's geometry and assets and
    take a null geometry or empty assets for missing fields. Items of projects without an
    extent or files are right to have them, so put one with both first (newest)."""
    located = [
        p for p in world.projects
        if "sharinghub:dataset" in p.topics and "spatial:" in _readme(p)
        and any(path.endswith((".tif", ".csv")) for path in p.files)
    ]  # fmt: skip
    assert located, "the seed must give at least one dataset with an extent and files"
    located[0].last_activity_at = "2026-12-31T12:00:00.000Z"


def _readme(project: Project) -> str:
    readme = project.files.get("README.md")
    return readme.content if readme else ""


def test_stac_api_validator_finds_no_error(live_api: tuple[ApiServer, str]) -> None:
    api, token = live_api
    command = [VALIDATOR, "--root-url", f"{api.url}/api/v1/stac", "--collection", "dataset",
               "--geometry", json.dumps(WORLD), "--validate-pagination",
               "--auth-bearer-token", token,
               "--fields-nested-property", "properties.title",
               # the generator gives datasets gsd 10/20/30/60 and a sentinel or landsat platform
               "--query-comparison-field", "gsd", "--query-eq-value", "10",
               "--query-neq-value", "10", "--query-lt-value", "30", "--query-lte-value", "20",
               "--query-gt-value", "20", "--query-gte-value", "30",
               "--query-substring-field", "platform", "--query-starts-with-value", "sentinel",
               "--query-ends-with-value", "-8", "--query-contains-value", "tinel-2",
               "--query-in-field", "keywords", "--query-in-values", "flood,crop"]  # fmt: skip
    for conformance in (
        "core",
        "collections",
        "features",
        "item-search",
        "item-search#sort",
        "item-search#fields",
        "features#fields",
        "features#sort",
        "filter",
        "item-search#query",
    ):
        command += ["--conformance", conformance]
    env = {**os.environ, "PYTHONPATH": str(OFFLINE)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-8000:]
    assert "Errors: none" in report, report[-8000:]
    assert token not in report


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    live_api: tuple[ApiServer, str],
) -> None:
    api, token = live_api
    command = [SCHEMATHESIS, "run", f"{api.url}/api/v1/stac/api",
               "--checks", "not_a_server_error,response_schema_conformance,"
               "status_code_conformance,content_type_conformance",
               "--header", f"PRIVATE-TOKEN: {token}",
               "--max-examples", "30", "--seed", "20261127", "--no-color"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-8000:]
    assert " passed" in report and " failed" not in report, report[-8000:]
    assert token not in report
