"""Real short runs: real servers, real Locust, checked against what was measured."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from tests.e2e.helpers import bench, latest_run, load

pytestmark = pytest.mark.e2e

SHORT = ["--warmup", "2s", "--duration", "4s", "--users", "4"]


def locust_final_count(cell_dir: Path, endpoint: str) -> int:
    """Locust's own final request count, from the summary table it prints at exit.

    (Its CSV is written once a second and can miss the last second.)
    """
    method, name = endpoint.split(" ", 1)
    for line in (cell_dir / "locust.log").read_text().splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[0] == method and parts[1] == name and parts[2].isdigit():
            return int(parts[2])
    raise AssertionError(f"no final Locust stats line for {endpoint}")


def assert_run_measured(run_dir: Path, endpoint: str = "GET /json") -> dict:
    meta = load(run_dir, "meta.json")
    assert meta["status"] == "complete", meta.get("error")
    summary = load(run_dir, "summary.json")
    (row,) = summary["rows"]
    cell_dir = run_dir / row["dir"]
    recorder = json.loads((cell_dir / "recorder.json").read_text())
    # every request Locust counted is in the recorder: successes + failures + profiled
    recorded = sum(
        e["count"] + sum(e["failures"].values()) + e.get("profiled", 0)
        for w in recorder["windows"]
        for name, e in w["endpoints"].items()
        if name == endpoint
    )
    locust_requests = locust_final_count(cell_dir, endpoint)
    assert recorded == locust_requests > 50
    assert recorder["locust_totals"][endpoint]["requests"] == locust_requests
    with (cell_dir / "locust_stats.csv").open() as fh:
        assert any(row["Name"] == endpoint.split(" ", 1)[1] for row in csv.DictReader(fh))
    # warm-up excluded: the summary counts fewer requests than were sent
    figures = row["endpoints"][endpoint]
    assert 0 < figures["requests"] < recorded
    lat = figures["latency_ms"]
    assert lat["count"] == figures["requests"] - sum(figures["failures"].values())
    # sub-millisecond resolution: percentiles are not whole milliseconds
    values = [lat[k] for k in ("p50", "p90", "p99", "min", "mean")]
    assert any(not math.isclose(v, round(v)) for v in values), values
    assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert (cell_dir / "timeseries.csv").exists() and (cell_dir / "cpu.csv").exists()
    assert (cell_dir / "server.log").exists() and (cell_dir / "locust.log").exists()
    assert meta["pinning"]["server_cpus"] != meta["pinning"]["generator_cpus"]
    assert any("locust" in " ".join(cmd) for cmd in meta["commands"])
    return row


@pytest.mark.parametrize(
    "server", ["gunicorn-sync", "gunicorn-gthread", "gunicorn-gevent", "werkzeug", "waitress"]
)
def test_short_run_on_every_server(workdir: Path, server: str) -> None:
    result = bench(
        [
            "run",
            "--target",
            "sync",
            "--scenario",
            "json",
            "--server",
            server,
            "--workers",
            "1",
            *SHORT,
            "--name",
            server,
        ],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = latest_run(workdir / "runs")
    row = assert_run_measured(run_dir)
    assert row["server"] == server
    assert "Run folder:" in result.stdout


def test_processes_merge_exactly(workdir: Path) -> None:
    result = bench(
        ["run", "--target", "sync", "--scenario", "json", "--processes", "2", *SHORT], workdir
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = latest_run(workdir / "runs")
    row = assert_run_measured(run_dir)
    recorder = load(run_dir / row["dir"], "recorder.json")
    assert recorder["processes"] == 2
