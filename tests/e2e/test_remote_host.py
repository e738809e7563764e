"""`run --host` on an address that is not literally 127.0.0.1: verified, then measured.

The multi-machine recipe (`serve --bind`, `run --host ... --allow-remote`) goes through
this path; load stays on this machine: `localhost` resolved by name, and `[::1]`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.stack.processes import Supervisor
from harness.stack.server_commands import ServerSpec
from harness.stack.servers import start_stack
from tests.e2e.helpers import bench, latest_run, load

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(("bind", "url_host"), [("127.0.0.1", "localhost"), ("::1", "[::1]")])
def test_host_by_name_or_ipv6_is_verified_and_measured(
    tmp_path: Path, bind: str, url_host: str
) -> None:
    with Supervisor() as sup:
        stack = start_stack(
            sup,
            ServerSpec("sync", "gunicorn-gthread", 1, 4),
            tmp_path / "srv",
            database_env={"FLASK_DATABASE_URL": f"sqlite:///{tmp_path / 'srv' / 'db.sqlite3'}"},
            bind=bind,
        )
        port = stack.url.rsplit(":", 1)[1]
        host = f"http://{url_host}:{port}"
        result = bench(
            [
                "run",
                "--host",
                host,
                "--allow-remote",
                "--scenario",
                "json",
                "--duration",
                "4s",
                "--warmup",
                "1s",
                "--users",
                "4",
                "--out",
                str(tmp_path / "runs"),
            ],
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    run_dir = latest_run(tmp_path / "runs")
    row = load(run_dir, "summary.json")["rows"][0]
    assert row["verify"] == "passed"
    assert row["endpoints"]["GET /json"]["requests"] > 0
    assert load(run_dir, "meta.json")["status"] == "complete"


def test_a_wrong_answer_on_the_host_stops_the_run_before_load(tmp_path: Path) -> None:
    """Verify runs on the --host path: a server that is not a reference target fails it."""
    with Supervisor() as sup:
        stack = start_stack(
            sup,
            ServerSpec(None, "gunicorn-sync", 1, 1, app="tiny:app", app_dir=_tiny_app(tmp_path)),
            tmp_path / "srv",
            database_env={"FLASK_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        )
        port = stack.url.rsplit(":", 1)[1]
        result = bench(
            [
                "run",
                "--host",
                f"http://localhost:{port}",
                "--scenario",
                "json",
                "--duration",
                "2s",
                "--warmup",
                "1s",
                "--out",
                str(tmp_path / "runs"),
            ],
            cwd=tmp_path,
        )
    assert result.returncode == 1
    assert "verify failed" in result.stderr


def _tiny_app(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "tiny.py").write_text(
        "from flask import Flask\napp = Flask(__name__)\n\n"
        "@app.get('/')\ndef index():\n    return 'hello'\n"
    )
    return folder


def test_serve_bind_with_instances_puts_nginx_where_the_message_says(tmp_path: Path) -> None:
    """`serve --bind 0.0.0.0 --instances 2`: nginx listens on 0.0.0.0; instances on loopback."""
    import re
    import urllib.request

    with Supervisor() as sup:
        stack = start_stack(
            sup,
            ServerSpec("sync", "gunicorn-sync", 1, 1),
            tmp_path,
            database_env={"FLASK_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
            bind="0.0.0.0",
            instances=2,
        )
        conf = (tmp_path / "nginx.conf").read_text()
        port = stack.url.rsplit(":", 1)[1]
        assert re.search(rf"listen 0\.0\.0\.0:{port}\b", conf)
        assert all(u.startswith("http://127.0.0.1:") for u in stack.instance_urls)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            assert r.status == 200
