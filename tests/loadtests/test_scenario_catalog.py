"""The scenario catalogue matches the contract and the locustfiles (without importing locust)."""

from __future__ import annotations

import ast
import sys

from loadtests.catalog import LOADTESTS_DIR, SCENARIOS, SHAPES, locustfile_path

CONTRACT = {
    "json",
    "plaintext",
    "db",
    "queries",
    "fortunes",
    "updates",
    "upstream",
    "cpu",
    "items",
    "browse",
    "api_write",
}


def _classes(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.ClassDef)}


def test_scenarios_and_shapes_are_the_contracts() -> None:
    assert set(SCENARIOS) == CONTRACT
    assert SHAPES == ("constant", "step", "spike")
    for name, s in SCENARIOS.items():
        assert s.name == name
        assert s.description
    assert {n for n, s in SCENARIOS.items() if not s.open_model_ok} == {"browse", "api_write"}


def test_every_scenario_names_an_existing_locustfile_and_classes() -> None:
    for name, s in SCENARIOS.items():
        path = locustfile_path(name)
        assert path.is_absolute() and path.is_file(), path
        assert set(s.user_classes) <= _classes(path), (name, s.user_classes)


def test_no_file_shadows_a_stdlib_module() -> None:
    # Locust puts the locustfile's folder first on sys.path
    for path in LOADTESTS_DIR.glob("*.py"):
        assert path.stem not in sys.stdlib_module_names, path


def test_catalog_and_histograms_do_not_import_locust() -> None:
    for name in ("catalog.py", "histograms.py"):
        source = (LOADTESTS_DIR / name).read_text()
        assert "import locust" not in source and "from locust" not in source, name
