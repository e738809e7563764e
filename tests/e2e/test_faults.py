"""Bad input and faults: one-line errors, non-zero exits, data kept, nothing left running."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.e2e.helpers import REPO, bench, cmd, latest_run, load

pytestmark = pytest.mark.e2e


def one_line_error(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error:"), lines[0]
    return lines[0]


def test_bad_input_exits_non_zero_with_one_line(workdir: Path) -> None:
    """One real process for what a shell sees: one ``Error:`` line, exit 2, no run folder.
    Every other bad flag is checked in-process (tests/harness/test_cli.py)."""
    result = bench(["run", "--target", "nope"], workdir, timeout=60)
    assert result.returncode == 2
    assert "--target" in one_line_error(result)
    assert not (workdir / "runs").exists()


def test_serve_port_in_use(workdir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = bench(["serve", "--target", "sync", "--port", str(port)], workdir, timeout=60)
    assert result.returncode == 1
    assert f"port {port}" in one_line_error(result)


def test_missing_executable_names_package(workdir: Path) -> None:
    env_path = os.path.dirname(sys.executable) + ":/nonexistent"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench.py"),
            "run",
            "--scenario",
            "json",
            "--redis",
            "--duration",
            "2s",
            "--warmup",
            "0s",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": env_path},
    )
    assert result.returncode == 1, result.stderr
    assert "apt-get install redis-server" in result.stderr
    meta = load(latest_run(workdir / "runs"), "meta.json")
    assert meta["status"] == "failed"


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def start_bench(workdir: Path, args: list[str], **kw: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "bench.py"), *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def wait_for_locust(proc: subprocess.Popen, timeout: float = 60) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = descendants(proc.pid)
        if any("locust" in cmd(p) for p in kids if p.is_running()):
            return kids
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.2)
    raise AssertionError("Locust never started")


def test_ctrl_c_marks_interrupted_and_leaves_nothing(workdir: Path) -> None:
    proc = start_bench(
        workdir,
        ["run", "--scenario", "json", "--warmup", "1s", "--duration", "60s", "--users", "2"],
    )
    try:
        kids = wait_for_locust(proc)
        time.sleep(6)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err.lower()
    time.sleep(0.5)
    assert not [p for p in kids if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    run_dir = latest_run(workdir / "runs")
    meta = load(run_dir, "meta.json")
    assert meta["status"] == "interrupted"
    (row,) = load(run_dir, "summary.json")["rows"]
    assert row["endpoints"]["GET /json"]["requests"] > 0  # data so far kept
    assert 0 < row["steady_seconds"] < 10  # measured up to the interruption, not 60 s


def _as_a_background_job() -> None:
    """What a shell does to `cmd &`: SIGINT ignored, and a process group of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.setpgrp()


def test_sigint_to_a_background_jobs_group_stops_the_run(workdir: Path) -> None:
    proc = start_bench(
        workdir,
        ["run", "--scenario", "json", "--warmup", "1s", "--duration", "60s", "--users", "2"],
        preexec_fn=_as_a_background_job,
    )
    try:
        kids = wait_for_locust(proc)
        time.sleep(4)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    time.sleep(0.5)
    assert not [p for p in kids if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert load(latest_run(workdir / "runs"), "meta.json")["status"] == "interrupted"


def test_server_killed_mid_run_marks_failed_keeps_data(workdir: Path) -> None:
    args = [
        "run",
        "--scenario",
        "json",
        "--server",
        "gunicorn-sync",
        "--warmup",
        "1s",
        "--duration",
        "60s",
        "--users",
        "2",
    ]
    proc = start_bench(workdir, args)
    try:
        kids = wait_for_locust(proc)
        time.sleep(6)
        masters = [
            p
            for p in kids
            if "bin/gunicorn " in cmd(p)
            and p.ppid() not in {k.pid for k in kids if "bin/gunicorn " in cmd(k)}
        ]
        assert masters
        os.killpg(masters[0].pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "during the run" in err
    time.sleep(0.5)
    assert not [p for p in kids if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    run_dir = latest_run(workdir / "runs")
    assert load(run_dir, "meta.json")["status"] == "failed"
    rows = load(run_dir, "summary.json")["rows"]
    assert rows and rows[0]["endpoints"]["GET /json"]["requests"] > 0


def test_sigterm_stops_like_ctrl_c(workdir: Path) -> None:
    proc = start_bench(
        workdir,
        ["run", "--scenario", "json", "--warmup", "1s", "--duration", "60s", "--users", "2"],
    )
    try:
        kids = wait_for_locust(proc)
        time.sleep(4)
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    time.sleep(0.5)
    assert not [p for p in kids if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert load(latest_run(workdir / "runs"), "meta.json")["status"] == "interrupted"


def test_killed_harness_takes_its_children_along(workdir: Path) -> None:
    """Even SIGKILL (no cleanup code runs) leaves no server or Locust behind."""
    proc = start_bench(
        workdir,
        ["run", "--scenario", "json", "--warmup", "1s", "--duration", "60s", "--users", "2"],
    )
    try:
        kids = wait_for_locust(proc)
        proc.kill()
        proc.communicate(timeout=30)
        deadline = time.monotonic() + 20
        alive = kids
        while time.monotonic() < deadline:
            alive = [p for p in kids if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            if not alive:
                break
            time.sleep(0.2)
    finally:
        for p in kids:
            with contextlib.suppress(psutil.Error):
                p.kill()
    assert not alive, [cmd(p) for p in alive]


def test_capacity_search_whose_locust_stops_answering_ends_failed(workdir: Path) -> None:
    """Not a HarnessError: Locust's web API stops answering mid-search (SIGSTOP). The
    run must end ``failed`` with the reason and error.txt, never ``complete``."""
    proc = start_bench(
        workdir,
        ["capacity", "--scenario", "json", "--slo", "p99:50ms", "--max-time", "120s"],
    )
    try:
        kids = wait_for_locust(proc)
        time.sleep(3)  # inside the search: a step is running
        (locust,) = [p for p in kids if "locust" in cmd(p) and p.is_running()][:1]
        locust.suspend()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode not in (0, None), err
    time.sleep(0.5)
    assert not [p for p in kids if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    run_dir = latest_run(workdir / "runs")
    meta = load(run_dir, "meta.json")
    assert meta["status"] == "failed", meta
    assert meta["error"]
    assert (run_dir / "error.txt").read_text().strip()
