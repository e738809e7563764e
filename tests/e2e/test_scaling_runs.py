"""Several instances behind nginx, losing one mid-run, and the scale suite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.e2e.helpers import REPO, bench, cmd, latest_run, load

pytestmark = pytest.mark.e2e

SHORT = ["--warmup", "1s", "--duration", "4s", "--users", "4", "--scenario", "json"]


def test_two_instances_behind_nginx_both_serve(workdir: Path) -> None:
    result = bench(
        ["run", "--instances", "2", "--workers", "1", "--server", "gunicorn-sync", *SHORT], workdir
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = latest_run(workdir / "runs")
    (row,) = load(run_dir, "summary.json")["rows"]
    per_instance = row["instance_requests"]
    served = {k: v for k, v in per_instance.items() if k != "-"}
    assert len(served) == 2 and all(n > 20 for n in served.values()), per_instance
    # nginx answered every request the recorder counted (plus verify and warm-up)
    assert sum(served.values()) >= row["endpoints"]["GET /json"]["requests"]
    cell_dir = run_dir / row["dir"]
    assert (cell_dir / "nginx.conf").exists() and (cell_dir / "server-2.log").exists()
    assert any("nginx" in " ".join(cmd) for cmd in load(run_dir, "meta.json")["commands"])


def test_losing_an_instance_mid_run_completes_and_says_so(workdir: Path) -> None:
    args = [
        "run",
        "--instances",
        "2",
        "--workers",
        "1",
        "--server",
        "gunicorn-sync",
        "--warmup",
        "1s",
        "--duration",
        "8s",
        "--users",
        "4",
        "--scenario",
        "json",
    ]
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bench.py"), *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        victim = None
        while time.monotonic() < deadline and victim is None:
            kids = psutil.Process(proc.pid).children(recursive=True)
            if any("locust" in cmd(p) for p in kids):
                masters = [p for p in kids if "bin/gunicorn " in cmd(p) and p.ppid() == proc.pid]
                victim = masters[-1] if len(masters) == 2 else None
            time.sleep(0.2)
        assert victim is not None, "never saw two gunicorn instances and Locust"
        time.sleep(3)
        os.killpg(victim.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    run_dir = latest_run(workdir / "runs")
    assert load(run_dir, "meta.json")["status"] == "complete"
    (row,) = load(run_dir, "summary.json")["rows"]
    assert any("kept serving behind nginx" in w for w in row["warnings"]), row["warnings"]
    assert row["endpoints"]["GET /json"]["requests"] > 0


def test_scale_suite_reports_efficiency(workdir: Path) -> None:
    result = bench(
        [
            "scale",
            "--target",
            "sync",
            "--server",
            "gunicorn-sync",
            "--workers",
            "1,2",
            "--instances",
            "1",
            "--duration",
            "3s",
            "--warmup",
            "1s",
            "--users",
            "4",
        ],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    scaling = load(latest_run(workdir / "runs"), "summary.json")["scaling"]
    assert [(r["workers"], r["instances"]) for r in scaling] == [(1, 1), (2, 1)]
    assert scaling[0]["efficiency"] == 1.0
    assert scaling[1]["efficiency"] > 0
    assert "Scaling" in result.stdout and "efficiency" in result.stdout
