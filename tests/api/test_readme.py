"""What the README and the docs tell a user to type exists: every LABSTAC_ variable is a
setting, every `labstac` command is a command, and each command's help has an example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from indexer.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_SETTINGS = {"LABSTAC_SECRETS_DIR", "LABSTAC_SERVICES_HOME"}  # read before the settings


def named(pattern: str) -> set[tuple[str, str]]:
    found = set()
    for document in DOCUMENTS:
        for match in re.findall(pattern, document.read_text()):
            found.add((document.name, match))
    return found


def test_every_variable_in_the_docs_is_a_setting() -> None:
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    variables = named(r"\b(LABSTAC_[A-Z_]+[A-Z])\b")
    assert len(variables) > 30
    unknown = {
        (doc, var) for doc, var in variables
        if var not in fields and var not in NOT_SETTINGS and not var.startswith("LABSTAC_TEST_")
    }  # fmt: skip
    assert not unknown, f"documented but not settings: {sorted(unknown)}"
    readme = (ROOT / "README.md").read_text()
    undocumented = {f for f in fields if f not in readme}
    assert not undocumented, f"settings the README's reference leaves out: {sorted(undocumented)}"


def test_every_command_in_the_docs_exists_and_shows_an_example() -> None:
    commands = {cmd for _, cmd in named(r"`labstac ([a-z][a-z-]*)")}
    assert {
        "serve",
        "worker",
        "beat",
        "status",
        "reindex",
        "reconcile",
        "retry-dead",
        "search",
    } <= commands
    assert commands <= set(main.commands), f"not commands: {commands - set(main.commands)}"
    for name in main.commands:
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example" in result.output, f"labstac {name} --help shows no example"


@pytest.mark.parametrize(
    "target", ["up", "down", "test", "services", "services-down", "services-status"]
)
def test_every_make_target_in_the_readme_exists(target: str) -> None:
    assert re.search(rf"^{re.escape(target)}:", (ROOT / "Makefile").read_text(), re.M)
