"""Categories come from a YAML file in SharingHub's format; a malformed one stops the program
at start with the file, the line and the reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support import LABSTAC_BIN

from indexer.errors import SettingsInvalid
from indexer.stac.categories import DEFAULT_CATALOG, categories_of, load_catalog

GOOD = """\
stac:
  extensions:
    mine: https://example.com/mine/v1.0.0/schema.json
  categories:
    - ai-model:
        title: AI Models
        description: Models.
        gitlab_topic: sharinghub:aimodel
        logo: https://example.com/logo.jpg
        locales:
          fr: {title: Modèles IA, description: Des modèles.}
        assets: ["*.onnx", {glob: "*.pt", roles: [data]}]
        features: {map-viewer: enable, mlflow: disable}
    - challenge:
        title: Challenges
        gitlab_topic: sharinghub:challenge
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "categories.yaml"
    path.write_text(text)
    return path


def test_the_defaults_are_sharinghubs() -> None:
    assert {c.id: c.gitlab_topic for c in DEFAULT_CATALOG.categories} == {
        "ai-model": "sharinghub:aimodel",
        "dataset": "sharinghub:dataset",
        "processor": "sharinghub:processor",
        "tools": "sharinghub:tools",
        "dashboard": "sharinghub:space",
    }
    two = categories_of(["SharingHub:AIModel", "sharinghub:dataset", "flood"],
                        DEFAULT_CATALOG.categories)  # fmt: skip
    assert [c.id for c in two] == ["ai-model", "dataset"]


def test_a_whole_sharinghub_configuration_loads(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, GOOD))
    model = catalog.by_id("ai-model")
    assert model is not None
    assert model.locales["fr"]["title"] == "Modèles IA"
    assert model.assets == ("*.onnx", {"glob": "*.pt", "roles": ["data"]})
    assert model.features == {"map-viewer": "enable", "mlflow": "disable"}
    assert catalog.extensions == {"mine": "https://example.com/mine/v1.0.0/schema.json"}
    assert [c.id for c in catalog.categories] == ["ai-model", "challenge"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("categories: [\n  - a: {title: A\n", "line 2: expected the node content"),
        ("categories:\n  - ai-model:\n      title: A\n", "line 3: 'gitlab_topic' is required"),
        ("categories:\n  - ai-model:\n      title: A\n      gitlab_topic: t\n      colour: red\n",
         "line 5: unknown key 'colour' in category 'ai-model'"),
        ("categories:\n  - Bad Id:\n      title: A\n      gitlab_topic: t\n",
         "line 2: category id 'Bad Id' must be lower-case"),
        ("categories:\n  - a:\n      title: A\n      gitlab_topic: t\n"
         "  - b:\n      title: B\n      gitlab_topic: T\n",
         "line 5: topic 'T' belongs to two categories"),
        ("categories:\n  - a:\n      title: A\n      gitlab_topic: t\n      features: {x: maybe}\n",
         "line 5: 'features' maps a name to enable or disable"),
        ("categories: []\n", "line 1: 'categories' must be a non-empty list"),
    ],
)  # fmt: skip
def test_a_malformed_file_is_refused_with_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsInvalid) as caught:
        load_catalog(path)
    assert caught.value.description.startswith(f"{path}: ")
    assert message in caught.value.description


def test_the_command_line_stops_at_start_on_a_bad_file(tmp_path: Path) -> None:
    path = write(tmp_path, "categories:\n  - a:\n      title: A\n")
    result = subprocess.run(
        [LABSTAC_BIN, "serve"],
        env={"PATH": "/usr/bin:/bin", "LABSTAC_GITLAB_URL": "https://gitlab.example.com",
             "LABSTAC_CATEGORIES_FILE": str(path)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == f"labstac: {path}: line 3: 'gitlab_topic' is required"


SHARINGHUB_CONFIG = """\
server:
  port: 8000
gitlab:
  url: https://gitlab.example.com/
stac:
  root: {title: SharingHub}
  projects:
    cache-timeout: 30
    assets:
      release-source-format: .TAR.GZ
  categories:
    - ai-model:
        title: AI Models
        gitlab_topic: sharinghub:aimodel
"""


def test_a_sharinghub_configuration_says_what_labstac_does_not_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="indexer.stac.categories"):
        catalog = load_catalog(write(tmp_path, SHARINGHUB_CONFIG), "https://gitlab.example.com")
    assert catalog.release_format == "tar.gz"
    unused = caplog.records[-1].unused  # type: ignore[attr-defined]
    for part in ("'server'", "'stac.root'", "'stac.projects.cache-timeout'"):
        assert part in unused


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("https://gitlab.example.com/", "https://other.example.com"),
         "line 4: gitlab.url is 'https://other.example.com' but labstac reads "
         "'https://gitlab.example.com' (LABSTAC_GITLAB_URL)"),
        (("release-source-format: .TAR.GZ", "release-source-format: rar"),
         "release-source-format must be one of zip, tar.gz, tar.bz2, tar, not 'rar'"),
        (("cache-timeout: 30", "visibility: public"),
         "'stac.projects.visibility' is not a setting labstac knows"),
    ],
)  # fmt: skip
def test_a_sharinghub_setting_is_read_or_refused(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = write(tmp_path, SHARINGHUB_CONFIG.replace(*change))
    with pytest.raises(SettingsInvalid) as caught:
        load_catalog(path, "https://gitlab.example.com")
    assert message in caught.value.description
