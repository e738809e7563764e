"""A user's own Flask app, written here (not a reference target), through the whole path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.stack.processes import Supervisor, free_port, wait_http_ready
from tests.e2e.helpers import bench, latest_run, load

pytestmark = pytest.mark.e2e

APP = """
from flask import Flask, abort, jsonify

app = Flask(__name__)
NAMES = {"ada", "grace"}


@app.get("/")
def index():
    return "hello"


@app.get("/hello/<name>")
def hello(name):
    if name not in NAMES:
        abort(404)
    return jsonify(greeting=f"hello {name}")


@app.get("/boom")
def boom():
    raise RuntimeError("this route always fails")


@app.post("/submit")
def submit():
    return "ok"


@app.get("/items/<int:item_id>")
def item(item_id):
    return jsonify(id=item_id)
"""

ROUTES = """
[values]
"/hello/<name>" = { name = ["ada", "grace"] }
"""

LOCUSTFILE = """
from locust import FastHttpUser, constant, task


class MyUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/", name="/")
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "myproject"
    folder.mkdir()
    (folder / "myapp.py").write_text(APP)
    (folder / "routes.toml").write_text(ROUTES)
    (folder / "my_locustfile.py").write_text(LOCUSTFILE)
    return folder


def test_generated_scenario_with_arguments_and_a_failing_route(app_dir: Path, workdir: Path):
    result = bench(
        [
            "run",
            "--app",
            "myapp:app",
            "--app-dir",
            str(app_dir),
            "--routes",
            str(app_dir / "routes.toml"),
            "--server",
            "gunicorn-sync",
            "--workers",
            "1",
            "--warmup",
            "1s",
            "--duration",
            "3s",
            "--users",
            "2",
        ],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = latest_run(workdir / "runs")
    assert load(run_dir, "meta.json")["status"] == "complete"
    routes = load(run_dir, "routes.json")
    names = {r["name"] for r in routes["routes"]}
    assert names == {"/", "/hello/<name>", "/boom"}  # GET routes without args, or with values
    assert any("/items/<int:item_id>" in s for s in routes["skipped"])  # no example values
    (row,) = load(run_dir, "summary.json")["rows"]
    assert set(row["endpoints"]) == {"GET /", "GET /hello/<name>", "ALL"}  # /boom left out
    assert row["endpoints"]["GET /hello/<name>"]["requests"] > 0
    assert row["endpoints"]["ALL"]["error_pct"] == 0
    assert any("/boom" in w and "500" in w for w in row["warnings"])
    assert row["target"] == "myapp"


@pytest.mark.parametrize("imports_recorder", [False, True])
def test_own_locustfile_with_recorder(app_dir: Path, workdir: Path, imports_recorder: bool):
    locustfile = app_dir / "my_locustfile.py"
    if imports_recorder:  # a locustfile that loads the recorder itself must not load it twice
        locustfile.write_text(LOCUSTFILE + "\nfrom loadtests import recorder  # noqa\n")
    result = bench(
        [
            "run",
            "--app",
            "myapp:app",
            "--app-dir",
            str(app_dir),
            "--scenario",
            str(locustfile),
            "--warmup",
            "1s",
            "--duration",
            "3s",
            "--users",
            "2",
        ],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = load(latest_run(workdir / "runs"), "summary.json")["rows"]
    assert row["scenario"] == "my_locustfile"
    assert row["endpoints"]["GET /"]["latency_ms"]["count"] > 0


def test_host_drives_an_app_already_running(app_dir: Path, workdir: Path) -> None:
    port = free_port()
    with Supervisor() as sup:
        server = sup.start(
            "my app",
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "myapp:app",
                "run",
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            cwd=app_dir,
            log_path=workdir / "app.log",
        )
        wait_http_ready(server, f"http://127.0.0.1:{port}/")
        result = bench(
            [
                "run",
                "--host",
                f"http://127.0.0.1:{port}",
                "--scenario",
                str(app_dir / "my_locustfile.py"),
                "--warmup",
                "1s",
                "--duration",
                "3s",
                "--users",
                "2",
            ],
            workdir,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = latest_run(workdir / "runs")
    (row,) = load(run_dir, "summary.json")["rows"]
    assert row["server"] == "external"
    assert row["endpoints"]["GET /"]["requests"] > 0
    assert not any("gunicorn" in " ".join(c) for c in load(run_dir, "meta.json")["commands"])


def test_unreachable_host(workdir: Path) -> None:
    result = bench(
        [
            "run",
            "--host",
            f"http://127.0.0.1:{free_port()}",
            "--scenario",
            "json",
            "--duration",
            "2s",
        ],
        workdir,
    )
    assert result.returncode == 1
    assert "nothing answers there" in result.stderr
    assert not (workdir / "runs").exists()  # bad input makes no run folder


def test_app_that_does_not_import(tmp_path: Path, workdir: Path) -> None:
    (tmp_path / "broken.py").write_text("import does_not_exist\n")
    result = bench(
        ["run", "--app", "broken:app", "--app-dir", str(tmp_path), "--duration", "2s"], workdir
    )
    assert result.returncode == 2
    assert "does_not_exist" in result.stderr
    assert not (workdir / "runs").exists()  # bad input makes no run folder
