"""`bench.py serve`: a target for a person, with Flask-DebugToolbar only when asked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from harness.stack.processes import free_port
from tests.e2e.helpers import REPO

pytestmark = pytest.mark.e2e


def serve_and_get(
    workdir: Path, extra: list[str], path: str = "/items", env: dict[str, str] | None = None
) -> str:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench.py"),
            "serve",
            "--target",
            "sync",
            "--server",
            "werkzeug",
            "--port",
            str(port),
            "--db",
            str(workdir / "serve.sqlite3"),
            *extra,
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + 60
        page = None
        while time.monotonic() < deadline and page is None:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    page = r.read().decode()
            except OSError:
                time.sleep(0.2)
        assert page is not None, "serve never answered"
        kids = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, 130)
    time.sleep(0.3)
    assert not [p for p in kids if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    return page


def test_debug_toolbar_only_in_debug_mode(tmp_path: Path) -> None:
    assert "flDebug" in serve_and_get(tmp_path, ["--debug"])
    assert "flDebug" not in serve_and_get(tmp_path, [])


def test_debug_refuses_a_public_bind(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench.py"), "serve", "--debug", "--bind", "0.0.0.0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--debug is for this machine only" in result.stderr


def test_an_inherited_debug_environment_does_not_turn_the_toolbar_on(tmp_path: Path) -> None:
    inherited = {"FLASK_DEBUG_TOOLBAR": "1", "FLASK_DEBUG": "1"}
    assert "flDebug" not in serve_and_get(tmp_path, [], env=inherited)


def test_debug_mode_shows_the_toolbar_to_loopback_only() -> None:
    from targets.sync_app import create_app

    app = create_app({"TESTING": True, "DEBUG_TOOLBAR": True, "DATABASE_URL": "sqlite://"})
    assert app.config["DEBUG_TB_HOSTS"] == ["127.0.0.1", "::1"]
