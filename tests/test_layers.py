"""The arrows of docs/design.md's folder table, read from the source: every import of a
labstac package names only packages and indexer rooms it may depend on. A new import that
points the wrong way fails here, naming the file and the line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("gitlab", "access", "stac", "search", "index", "mlflow")
# Who may import whom. indexer's infrastructure (settings, errors, logs...) is "indexer".
ALLOWED: dict[str, set[str]] = {
    "mappings": set(),
    "indexer": set(),
    "indexer.gitlab": {"indexer"},
    "indexer.access": {"indexer", "indexer.gitlab"},
    "indexer.mlflow": {"indexer"},
    "indexer.stac": {"indexer", "indexer.gitlab", "indexer.mlflow"},
    "indexer.search": {"indexer", "indexer.stac"},
    "indexer.index": {
        "indexer",
        "indexer.gitlab",
        "indexer.access",
        "indexer.stac",
        "indexer.mlflow",
        "mappings",
    },
    "workers": {"indexer", *(f"indexer.{room}" for room in ROOMS), "mappings"},
    "api": {"indexer", *(f"indexer.{room}" for room in ROOMS), "mappings", "workers"},
    "gitlab_sim": set(),
}
FIRST_PARTY = {"mappings", "indexer", "workers", "api", "gitlab_sim"}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] not in FIRST_PARTY:
        return None
    if parts[0] == "indexer" and len(parts) > 1 and parts[1] in ROOMS:
        return f"indexer.{parts[1]}"
    return parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from indexer import stac`` names a room: count each imported name too.
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def sources() -> list[Path]:
    return sorted(p for package in FIRST_PARTY for p in (ROOT / package).rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    assert {layer_of(module_name(p)) for p in sources()} == set(ALLOWED)


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path: Path) -> None:
    own = layer_of(module_name(path))
    assert own is not None
    wrong = []
    for line, target in imported_modules(path):
        target_layer = layer_of(target)
        if target_layer is None or target_layer == own:
            continue
        if target_layer not in ALLOWED[own]:
            wrong.append(f"line {line}: {target} ({own} may not import {target_layer})")
    assert not wrong, "\n".join(wrong)


def test_every_indexer_room_says_what_it_owns_and_may_import() -> None:
    for room in ROOMS:
        docstring = ast.get_docstring(
            ast.parse((ROOT / "indexer" / room / "__init__.py").read_text())
        )
        assert docstring, f"indexer/{room}/__init__.py has no docstring"
        assert "May import" in docstring or "may import" in docstring, room
