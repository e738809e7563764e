"""Coordinated omission: a 1 s server stall under an open-model run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.helpers import REPO, latest_run, load, stall_server

pytestmark = pytest.mark.e2e


def run_with_stall(workdir: Path, *, rate: int, warmup: int, duration: int, stall_after: float,
                   stall: float = 1.0) -> dict:  # fmt: skip
    args = ["run", "--target", "sync", "--scenario", "json", "--server", "gunicorn-sync",
            "--workers", "1", "--rate", str(rate), "--warmup", f"{warmup}s",
            "--duration", f"{duration}s", "--name", "stall"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, str(REPO / "bench.py"), *args], cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
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


def test_stall_shows_in_corrected_not_uncorrected(workdir: Path) -> None:
    row = run_with_stall(workdir, rate=100, warmup=2, duration=10, stall_after=3)
    figures = row["endpoints"]["GET /json"]
    corrected, uncorrected = figures["corrected_latency_ms"], figures["latency_ms"]
    assert row["open_model"]["rate"] == 100
    assert corrected is not None
    # ~100 of ~1000 requests were scheduled during the stall: the corrected tail sees it
    assert corrected["p99"] >= 500, corrected
    # the uncorrected figure, measured from the actual send, hides most of it
    assert uncorrected["p99"] < corrected["p99"] / 2, (uncorrected, corrected)
    assert corrected["count"] == uncorrected["count"]
