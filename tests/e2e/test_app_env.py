"""A user's app in its own virtualenv, with a Flask other than the harness's, configured
the user's way: measured through --app-python, profiled, its version and packages recorded.

The venv is made once for the module (python -m venv + pip install from the package
index; pip's cache makes later runs fast) and one profiled run serves every test.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.e2e.helpers import REPO, latest_run, load

pytestmark = pytest.mark.e2e

HARNESS_FLASK = metadata.version("flask")
APP_FLASK = "3.0.3" if HARNESS_FLASK != "3.0.3" else "3.0.2"  # never the harness's version
APP_VERSION = "0.4.2"

PYPROJECT = f"""
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "bench-demo-app"
version = "{APP_VERSION}"
dependencies = ["flask[async]=={APP_FLASK}"]
"""

APP = """
import asyncio
import importlib.metadata
import sqlite3

from flask import Flask, jsonify


def crunch_numbers(n):
    return sum(i * i for i in range(n))


async def crunch_async(n):
    await asyncio.sleep(0)
    return crunch_numbers(n)


def create_app(greeting="hello"):
    import demo_site_settings  # found only through the user's own PYTHONPATH

    app = Flask(__name__)
    app.config.from_prefixed_env()  # as Flask documents: FLASK_DATABASE_URL -> DATABASE_URL
    db_path = app.config["DATABASE_URL"].removeprefix("sqlite:///")

    @app.get("/")
    def index():
        with sqlite3.connect(db_path, timeout=30) as con:
            con.execute("create table if not exists hits (greeting, site, flask, token)")
            con.execute(
                "insert into hits values (?, ?, ?, ?)",
                (greeting, demo_site_settings.NAME, importlib.metadata.version("flask"),
                 app.config.get("API_TOKEN")),
            )
        return jsonify(greeting=greeting, total=crunch_numbers(30000))

    @app.get("/async")
    async def async_view():
        return jsonify(total=await crunch_async(30000))

    return app
"""


def _run(argv: list[str], cwd: Path | None = None, timeout: float = 300) -> None:
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]


@pytest.fixture(scope="module")
def app_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the demo app installed as a distribution, and a Flask not the harness's."""
    root = tmp_path_factory.mktemp("appenv")
    src = root / "demoapp"
    (src / "bench_demo_app").mkdir(parents=True)
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "bench_demo_app" / "__init__.py").write_text(APP)
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(src)], timeout=600)
    return venv


@pytest.fixture(scope="module")
def profiled_run(app_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One profiled run of the app through --app-python, configured by the user."""
    work = tmp_path_factory.mktemp("work")  # no --app-dir: the app is only in its venv
    user_path = tmp_path_factory.mktemp("userpath")
    (user_path / "demo_site_settings.py").write_text('NAME = "from-user-pythonpath"\n')
    db = work / "users-own.sqlite3"
    env_file = work / "app.env"
    env_file.write_text(f"# the app's settings\nFLASK_DATABASE_URL=sqlite:///{db}\nFLASK_DEBUG=1\n")
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(user_path)}
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench.py"),
            "profile",
            "--app",
            'bench_demo_app:create_app(greeting="hey")',
            "--app-python",
            str(app_venv),
            "--env-file",
            str(env_file),
            "--env",
            "FLASK_API_TOKEN=s3cret-value",
            "--server",
            "gunicorn-gthread",
            "--workers",
            "1",
            "--warmup",
            "1s",
            "--duration",
            "4s",
            "--users",
            "2",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = latest_run(work / "runs")
    return {"run_dir": run_dir, "db": db, "result": result}


def test_the_app_runs_in_its_own_venv_and_meta_names_what_ran(profiled_run: dict, app_venv: Path):
    run_dir = profiled_run["run_dir"]
    meta = load(run_dir, "meta.json")
    assert meta["status"] == "complete"
    server = meta["server_environment"]
    assert server["prefix"] == str(app_venv)
    assert server["packages"]["flask"] == APP_FLASK != meta["packages"]["flask"]
    assert server["app"]["distribution"] == "bench-demo-app"
    assert server["app"]["version"] == APP_VERSION
    assert "gunicorn" in server["from_harness"] and "flask" not in server["from_harness"]
    (row,) = load(run_dir, "summary.json")["rows"]
    assert row["endpoints"]["GET /"]["requests"] > 0
    assert row["endpoints"]["ALL"]["error_pct"] == 0
    # the server and the route discovery both ran under the app's interpreter
    assert any(c[0] == str(app_venv / "bin" / "python") for c in meta["commands"])
    assert {r["name"] for r in load(run_dir, "routes.json")["routes"]} == {"/", "/async"}
    report = (run_dir / "report.html").read_text()
    assert f"bench-demo-app {APP_VERSION} · Flask {APP_FLASK}" in report


def test_the_users_configuration_reaches_the_app(profiled_run: dict):
    with sqlite3.connect(profiled_run["db"]) as con:
        rows = set(con.execute("select greeting, site, flask, token from hits"))
    # the user's database (from --env-file), factory argument, PYTHONPATH, --env and Flask
    assert rows == {("hey", "from-user-pythonpath", APP_FLASK, "s3cret-value")}
    meta_text = (profiled_run["run_dir"] / "meta.json").read_text()
    assert "s3cret-value" not in meta_text  # a secret-looking name is masked
    env = json.loads(meta_text)["server_environment"]["env"]
    assert env["FLASK_API_TOKEN"] == "***"
    assert env["FLASK_DATABASE_URL"] == f"sqlite:///{profiled_run['db']}"
    assert "FLASK_DEBUG" not in env  # measured servers never run in debug mode


def test_hotspots_name_the_apps_own_functions(profiled_run: dict):
    hotspots = load(profiled_run["run_dir"] / "profiles", "hotspots.json")
    (cell,) = hotspots["cells"].values()
    for endpoint, view in (("GET /", "index"), ("GET /async", "async_view")):
        functions = {h["function"] for h in cell["endpoints"][endpoint]["hotspots"]}
        assert {"crunch_numbers", view} <= functions, (endpoint, functions)
    (row,) = load(profiled_run["run_dir"], "summary.json")["rows"]
    assert not any("no request was profiled" in w for w in row["warnings"])


def _bench(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "bench.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_bad_env_file_line_exits_2_naming_the_line(tmp_path: Path):
    env_file = tmp_path / "bad.env"
    env_file.write_text("A=1\n# fine\nthis is not a setting\n")
    out = _bench(["run", "--app", "x:app", "--env-file", str(env_file)], tmp_path)
    assert out.returncode == 2
    assert f"{env_file} line 3 is not KEY=VALUE" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_another_python_version_is_refused_in_one_line(tmp_path: Path):
    others = [
        p
        for p in Path.home().glob(".pyenv/versions/3.*/bin/python3")
        if not p.parent.parent.name.startswith(f"3.{sys.version_info[1]}.")
    ]
    if not others:
        pytest.skip("no Python of another minor version on this machine")
    out = _bench(["run", "--app", "x:app", "--app-python", str(others[0])], tmp_path)
    assert out.returncode == 2
    assert "cannot mix" in out.stderr and len(out.stderr.strip().splitlines()) == 1
