"""The house is one-way: these tests fail when a package imports what it must not.

runfolder/ is beneath harness/ and reports/; reports/ never imports harness/; the
harness never imports locust, gevent or a target's app code (they run as child
processes); harness/engine.py never imports reports/ (the report is a callback).
Imports inside functions count as much as those at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# what the harness may import from targets/ and loadtests/: no Flask app, no locust
HARNESS_MAY_IMPORT = {
    "targets.verify",
    "targets.catalog",
    "loadtests.catalog",
    "loadtests.histograms",
    "loadtests.forms",
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def package_imports(package: str) -> dict[str, set[str]]:
    return {str(p.relative_to(REPO)): imports(p) for p in sorted((REPO / package).rglob("*.py"))}


def offenders(package: str, bad: callable) -> list[str]:  # type: ignore[valid-type]
    return [
        f"{module} imports {name}"
        for module, names in package_imports(package).items()
        for name in sorted(names)
        if bad(name)
    ]


def _under(name: str, *roots: str) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


def test_runfolder_imports_neither_harness_nor_reports() -> None:
    assert offenders("runfolder", lambda n: _under(n, "harness", "reports", "locust")) == []


def test_reports_import_nothing_from_harness() -> None:
    assert offenders("reports", lambda n: _under(n, "harness", "locust")) == []


def test_harness_never_imports_locust_gevent_or_app_code() -> None:
    def bad(name: str) -> bool:
        if _under(name, "locust", "gevent"):
            return True
        if _under(name, "targets", "loadtests"):
            top = ".".join(name.split(".")[:2])
            return top not in HARNESS_MAY_IMPORT and name not in ("targets", "loadtests")
        return False

    assert offenders("harness", bad) == []


def test_engine_does_not_import_reports() -> None:
    names = imports(REPO / "harness" / "run" / "engine.py")
    assert not [n for n in names if _under(n, "reports")]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import locust\n", True),
        ("def f():\n    from locust import events\n", True),
        ("from targets.sync_app import create_app\n", True),
        ("from targets.verify import verify_url\n", False),
    ],
)
def test_the_check_itself_sees_imports(tmp_path: Path, source: str, expected: bool) -> None:
    """The rules above would pass vacuously if the import scan missed imports."""
    path = tmp_path / "m.py"
    path.write_text(source)
    names = imports(path)
    found = any(
        _under(n, "locust")
        or (_under(n, "targets") and ".".join(n.split(".")[:2]) not in HARNESS_MAY_IMPORT)
        for n in names
        if n != "targets"
    )
    assert found is expected
