"""Capacity under an SLO on real servers: gunicorn, Locust, the recorder."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from harness.cells import Cell
from harness.config import RunConfig
from harness.load.workload import prepare_workload
from harness.run.engine import start_cell
from harness.segments.capacity.search import Slo, judge
from harness.segments.engine import Stepper
from harness.stack.processes import Supervisor
from tests.e2e.helpers import bench, latest_run, load

pytestmark = pytest.mark.e2e


def test_capacity_of_sync_json_is_at_most_its_saturated_throughput(workdir: Path) -> None:
    out = workdir / "runs"
    cap = bench(
        [
            "capacity",
            "--target",
            "sync",
            "--scenario",
            "json",
            "--start-rate",
            "100",
            "--max-time",
            "25s",
            "--confirm",
            "3s",
            "--out",
            str(out),
        ],
        workdir,
    )
    assert cap.returncode == 0, cap.stderr[-2000:]
    assert "bracket" in cap.stdout and "Ladder of sync-gunicorn-gthread-json" in cap.stdout
    summary = load(latest_run(out), "summary.json")
    (row,) = summary["rows"]
    ladder = row["capacity"]
    assert ladder["slo"]["p99_ms"] == 50.0 and len(ladder["steps"]) >= 3
    assert {"rate", "achieved", "p50", "p99", "errors", "dropped", "passed", "reason"} <= set(
        ladder["steps"][0]
    )
    low, high = ladder["bracket"]
    assert low > 0 and (high is None or high > low), ladder["message"]
    # on a loaded machine the confirmation can fail even below the knee ("unconfirmed"):
    # the highest rate that passed is then what is compared
    assert ladder["outcome"] in ("found", "unconfirmed", "time-bound"), ladder["message"]
    assert ladder["rate"] is None or ladder["rate"] == low
    # the ladder explains the answer: every passing step met the SLO, every failing one
    # says why, and the bracket's low end is at most the highest rate that passed (a failed
    # confirmation lowers it)
    steps = ladder["steps"]
    passed = [s for s in steps if s["passed"]]
    assert passed, steps
    assert all(s["p99"] is not None and s["p99"] <= 50.0 for s in passed), passed
    assert all(s["reason"] for s in steps if not s["passed"])
    assert 0 < low <= max(s["rate"] for s in passed)


def test_a_server_frozen_mid_step_fails_the_step(tmp_path: Path) -> None:
    cfg = RunConfig.build(targets=("sync",), scenarios=("json",), users=16)
    cell = Cell("sync", "gunicorn-gthread", "json", 2, 8, scenario_arg="json")
    slo = Slo(50.0, 0.1)
    with Supervisor() as sup:
        stack = start_cell(
            sup, cfg, cell, tmp_path, {"FLASK_DATABASE_URL": f"sqlite:///{tmp_path}/b.db"}
        )
        workload = prepare_workload(cfg, cell, stack, tmp_path, tmp_path)
        stepper = Stepper(
            sup, [stack], workload, tmp_path / "steps", users=16, cpus=cfg.pinning.generator_cpus
        ).open()
        try:
            stepper.run(50.0, 1.0, 2.0)  # a fresh server's first requests are slow: warm it
            calm, _ = stepper.run(50.0, 1.0, 3.0)
            # the control: without the freeze no request waits a second (other tests may
            # share the machine, so the 50 ms SLO itself is not what the control asks)
            assert calm.p99 is not None and calm.p99 < 1000, calm

            def freeze() -> None:
                time.sleep(1.5)  # inside the measured seconds
                stack.server.signal_group(signal.SIGSTOP)
                try:
                    time.sleep(2.0)
                finally:
                    stack.server.signal_group(signal.SIGCONT)

            thread = threading.Thread(target=freeze)
            thread.start()
            frozen, _ = stepper.run(50.0, 1.0, 3.0)
            thread.join()
        finally:
            stepper.close()
    passed, reason = judge(frozen, slo)
    assert not passed, frozen
    assert frozen.p99 is not None and frozen.p99 > 1000, frozen  # corrected: the whole freeze
    assert reason
