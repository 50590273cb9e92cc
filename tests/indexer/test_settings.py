"""Settings come from LABSTAC_* variables; a bad one stops the program with one line that
names the variable and never echoes a secret."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support import LABSTAC_BIN

from indexer.errors import SettingsInvalid
from indexer.settings import load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("LABSTAC_"):
            monkeypatch.delenv(key)


def test_defaults_need_only_the_gitlab_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSTAC_GITLAB_URL", "https://gitlab.example.com")
    settings = load_settings()
    assert str(settings.gitlab_url) == "https://gitlab.example.com/"
    assert [str(url) for url in settings.opensearch_url] == ["http://127.0.0.1:9200/"]
    assert settings.redis_url_str == "redis://127.0.0.1:6379/0"
    assert settings.stac_root == "/api/v1/stac"
    assert settings.webhook_secrets == []


def test_missing_required_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert caught.value.description == "LABSTAC_GITLAB_URL is required but not set"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LABSTAC_PORT", "eighty"),
        ("LABSTAC_PORT", "70000"),
        ("LABSTAC_OPENSEARCH_URL", "not a url"),
        ("LABSTAC_OPENSEARCH_URL", "http://node-1:9200,https://node-2:9200"),
        ("LABSTAC_OPENSEARCH_URL", ",,"),
        ("LABSTAC_INDEX_SHARDS", "0"),
        ("LABSTAC_INDEX_REPLICAS", "-1"),
        ("LABSTAC_REDIS_URL", "http://127.0.0.1:6379"),
        ("LABSTAC_STAC_ROOT", "api/v1/stac/"),
        ("LABSTAC_LOG_LEVEL", "LOUD"),
    ],
)
def test_malformed_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("LABSTAC_GITLAB_URL", "https://gitlab.example.com")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert caught.value.description.startswith(f"{variable} is invalid: ")
    assert value not in caught.value.description


def test_webhook_secrets_are_comma_separated_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSTAC_GITLAB_URL", "https://gitlab.example.com")
    monkeypatch.setenv("LABSTAC_WEBHOOK_SECRETS", "old-secret-0123456789, new-secret-0123456789")
    settings = load_settings()
    assert [s.get_secret_value() for s in settings.webhook_secrets] == [
        "old-secret-0123456789",
        "new-secret-0123456789",
    ]
    assert "secret-0123456789" not in repr(settings)
    assert "secret-0123456789" not in str(settings.model_dump())


def test_short_webhook_secret_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LABSTAC_GITLAB_URL", "https://gitlab.example.com")
    monkeypatch.setenv("LABSTAC_WEBHOOK_SECRETS", "hunter2")
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert caught.value.description.startswith("LABSTAC_WEBHOOK_SECRETS is invalid")
    assert "hunter2" not in caught.value.description


def test_secrets_can_come_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "LABSTAC_GITLAB_TOKEN").write_text("glpat-from-a-file\n")
    monkeypatch.setenv("LABSTAC_GITLAB_URL", "https://gitlab.example.com")
    monkeypatch.setenv("LABSTAC_SECRETS_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.gitlab_token is not None
    assert settings.gitlab_token.get_secret_value() == "glpat-from-a-file"


def test_missing_secrets_dir_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LABSTAC_GITLAB_URL", "https://gitlab.example.com")
    monkeypatch.setenv("LABSTAC_SECRETS_DIR", str(tmp_path / "absent"))
    with pytest.raises(SettingsInvalid, match=r"^LABSTAC_SECRETS_DIR: "):
        load_settings()


@pytest.mark.parametrize("command", ["serve", "worker", "beat", "status"])
def test_cli_stops_with_one_line_naming_the_variable(command: str) -> None:
    result = subprocess.run(
        [LABSTAC_BIN, command],
        env={
            "PATH": "/usr/bin:/bin",
            "LABSTAC_GITLAB_URL": "https://gitlab.example.com",
            "LABSTAC_REDIS_URL": "redis://:s3cret-pass@127.0.0.1:99999/0",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("labstac: LABSTAC_REDIS_URL is invalid")
    assert "s3cret-pass" not in result.stderr + result.stdout


def test_empty_optional_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSTAC_GITLAB_URL", "https://gitlab.example.com")
    monkeypatch.setenv("LABSTAC_OPENSEARCH_CA_CERTS", "")
    monkeypatch.setenv("LABSTAC_GITLAB_TOKEN", "")
    settings = load_settings()
    assert settings.opensearch_ca_certs is None
    assert settings.gitlab_token is None


def test_minimum_access_level_is_one_of_gitlabs_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSTAC_GITLAB_URL", "https://gitlab.example.com")
    assert load_settings().min_access_level == 20
    monkeypatch.setenv("LABSTAC_MIN_ACCESS_LEVEL", "30")
    assert load_settings().min_access_level == 30
    monkeypatch.setenv("LABSTAC_MIN_ACCESS_LEVEL", "25")
    with pytest.raises(SettingsInvalid, match=r"^LABSTAC_MIN_ACCESS_LEVEL is invalid"):
        load_settings()


def test_several_engine_nodes_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSTAC_GITLAB_URL", "https://gitlab.example.com")
    monkeypatch.setenv("LABSTAC_OPENSEARCH_URL", "https://node-1:9200, https://node-2:9200")
    monkeypatch.setenv("LABSTAC_INDEX_SHARDS", "3")
    monkeypatch.setenv("LABSTAC_INDEX_REPLICAS", "1")
    settings = load_settings()
    assert [url.host for url in settings.opensearch_url] == ["node-1", "node-2"]
    assert (settings.index_shards, settings.index_replicas) == (3, 1)
