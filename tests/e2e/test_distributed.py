"""A run whose load comes from a worker joining with `bench.py worker` (on loopback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.stack.processes import free_port
from tests.e2e.helpers import REPO, latest_run, load

pytestmark = pytest.mark.e2e


def test_worker_joins_master_and_counts_merge(workdir: Path) -> None:
    port = free_port()
    master = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench.py"),
            "run",
            "--target",
            "sync",
            "--scenario",
            "json",
            "--expect-workers",
            "1",
            "--master-bind",
            f"127.0.0.1:{port}",
            "--warmup",
            "1s",
            "--duration",
            "4s",
            "--users",
            "4",
            "--name",
            "distributed",
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench.py"),
            "worker",
            "--master",
            f"127.0.0.1:{port}",
            "--scenario",
            "json",
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, master_err = master.communicate(timeout=180)
        worker.communicate(timeout=60)
    finally:
        for proc in (master, worker):
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert master.returncode == 0, master_err[-3000:]
    run_dir = latest_run(workdir / "runs")
    (row,) = load(run_dir, "summary.json")["rows"]
    recorder = load(run_dir / row["dir"], "recorder.json")
    recorded = sum(
        e["count"] + sum(e["failures"].values())
        for w in recorder["windows"]
        for e in w["endpoints"].values()
    )
    # the worker's histograms reached the master and merged exactly
    assert recorded == recorder["locust_totals"]["GET /json"]["requests"] > 50
    assert row["endpoints"]["GET /json"]["latency_ms"]["count"] > 0
