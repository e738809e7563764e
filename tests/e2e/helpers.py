"""Helpers for end-to-end tests: run bench.py as a user would, as a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def bench(
    args: list[str], cwd: Path, timeout: float = 240, **kw: Any
) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, str(REPO / "bench.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kw,
    )


def latest_run(out: Path) -> Path:
    return out / (out / "latest").read_text().strip()


def load(run_dir: Path, name: str) -> Any:
    return json.loads((run_dir / name).read_text())


def server_group_pids(bench_pid: int) -> list[int]:
    """Process-group leaders of the gunicorn servers started under ``bench_pid``."""
    import psutil

    try:
        kids = psutil.Process(bench_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p.pid for p in kids if "bin/gunicorn " in cmd(p) and p.ppid() == bench_pid]


def stall_server(bench_pid: int, after: float, stall: float, timeout: float = 60) -> float:
    """Freeze the server (SIGSTOP its process group) for ``stall`` seconds; returns when."""
    import os
    import signal
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        import psutil

        kids = psutil.Process(bench_pid).children(recursive=True)
        if any("locust" in cmd(p) for p in kids):
            break
        time.sleep(0.1)
    time.sleep(after)
    leaders = server_group_pids(bench_pid)
    assert leaders, "no gunicorn server found to stall"
    when = time.time()
    for pid in leaders:
        os.killpg(pid, signal.SIGSTOP)
    try:
        time.sleep(stall)
    finally:
        for pid in leaders:
            os.killpg(pid, signal.SIGCONT)
    return when


def run_with_stall(
    workdir: Path, *, rate: int, warmup: int, duration: int, stall_after: float, stall: float = 1.0
) -> dict:
    args = [
        "run",
        "--target",
        "sync",
        "--scenario",
        "json",
        "--server",
        "gunicorn-sync",
        "--workers",
        "1",
        "--users",
        "4",
        "--rate",
        str(rate),
        "--warmup",
        f"{warmup}s",
        "--duration",
        f"{duration}s",
        "--name",
        "stall",
    ]
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bench.py"), *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stall_server(proc.pid, after=warmup + stall_after, stall=stall)
        _, err = proc.communicate(timeout=warmup + duration + 90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    run_dir = latest_run(workdir / "runs")
    (row,) = load(run_dir, "summary.json")["rows"]
    return row


def cmd(proc: Any) -> str:
    """A process's command line, or "" for one that is gone or a zombie."""
    import psutil

    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""
