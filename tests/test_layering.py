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


# harness/ from the bottom up: each layer imports only the layers below it (and itself)
HARNESS_LAYERS = (
    ("harness.config", "harness.sections", "harness.cells", "harness.userenv"),
    ("harness.stack",),
    ("harness.load",),
    ("harness.run",),
    ("harness.segments",),
    ("harness.cli",),
)
# below the run engine the harness knows nothing of reports: rows go up, reports are derived
NO_REPORTS = (
    "harness.config",
    "harness.sections",
    "harness.cells",
    "harness.stack",
    "harness.load",
    "harness.run",
)


def layer_of(name: str) -> int | None:
    for index, layer in enumerate(HARNESS_LAYERS):
        if _under(name, *layer):
            return index
    return None


def upward_imports(modules: dict[str, set[str]]) -> list[str]:
    found = []
    for module, names in modules.items():
        own = layer_of(module.removesuffix(".py").replace("/", ".").removesuffix(".__init__"))
        assert own is not None, f"{module} is in no layer: add it to HARNESS_LAYERS"
        for name in sorted(names):
            layer = layer_of(name)
            if layer is not None and layer > own:
                found.append(f"{module} imports {name} (a layer above it)")
            if _under(name, "reports") and _under(module.replace("/", "."), *NO_REPORTS):
                found.append(f"{module} imports {name} (reports are derived above the engine)")
    return found


def test_each_harness_layer_imports_only_those_below() -> None:
    modules = {m: n for m, n in package_imports("harness").items() if m != "harness/__init__.py"}
    assert upward_imports(modules) == []


def test_the_layer_check_sees_an_upward_import() -> None:
    modules = {
        "harness/stack/servers.py": {"harness.run.engine"},
        "harness/load/workload.py": {"reports.stats"},
        "harness/cli/main.py": {"harness.segments.ab.plan", "reports.compare"},
    }
    assert upward_imports(modules) == [
        "harness/stack/servers.py imports harness.run.engine (a layer above it)",
        "harness/load/workload.py imports reports.stats (reports are derived above the engine)",
    ]


def test_no_import_circle_between_modules() -> None:
    """No import circle anywhere in the project's packages, imports inside functions
    included: a lazy import hides a circle, it does not remove it."""
    graph: dict[str, set[str]] = {}
    for package in ("runfolder", "harness", "reports", "profiles", "loadtests", "targets"):
        for path in sorted((REPO / package).rglob("*.py")):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            graph[name] = imports(path)
    edges = {m: {n for n in deps if n in graph and n != m} for m, deps in graph.items()}
    # a module's own package (its __init__) is not a dependency on its siblings
    edges = {m: {n for n in deps if not m.startswith(n + ".")} for m, deps in edges.items()}
    assert find_cycle(edges) is None


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_circle_check_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


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


MAX_MODULE_LINES = 400
PACKAGES = ("runfolder", "harness", "reports", "profiles", "loadtests", "targets")


def oversized_modules(root: Path) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            lines = len(path.read_text().splitlines())
            if lines > MAX_MODULE_LINES:
                found.append(f"{path.relative_to(root).as_posix()} ({lines} lines)")
    return found


def test_no_module_over_400_lines() -> None:
    """A module a newcomer can read in one sitting; split a longer one by concern."""
    assert oversized_modules(REPO) == []


def test_the_size_check_sees_a_long_module(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "short.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    (tmp_path / "profiles" / "long.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    assert oversized_modules(tmp_path) == ["profiles/long.py (401 lines)"]
