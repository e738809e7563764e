"""Report build time and size for a one-hour run at about 1,000 requests/s.

    .venv/bin/python benchmarks/report_size.py [--keep DIR]

Synthesizes the run folder the engine would write (meta.json, summary.json and,
per cell, recorder.json with one HdrHistogram per endpoint per second, 3.6 million
requests in all, timeseries.csv and cpu.csv, summarized by ``runfolder.figures``),
then times ``render_report``. Also builds a default-suite-shaped run (4 targets x
browse, 40 s each) for the second figure. Goals (issue 5): the one-hour report
builds in <= 5 s and is <= 2 MB; the default suite's report is <= 1 MB.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runfolder import figures, hdr  # noqa: E402
from runfolder.window import SteadyWindow  # noqa: E402

ENDPOINTS = {  # share of traffic, median latency ms
    "GET /items": (0.45, 4.0),
    "GET /items/<int:item_id>": (0.35, 2.5),
    "POST /login": (0.08, 9.0),
    "GET /items/new": (0.07, 3.0),
    "POST /items/new": (0.05, 6.0),
}
START = 1_764_212_400.3
# latency grid: 400 log-spaced values from 0.2 ms to 2 s (µs)
GRID_US = np.unique(np.geomspace(200, 2_000_000, 400).astype(np.int64))


def _window_hist(rng: np.random.Generator, n: int, median_ms: float) -> tuple[str, np.ndarray]:
    """A histogram of ``n`` lognormal latencies, recorded as (value, count) pairs."""
    z = (np.log(GRID_US / (median_ms * 1000))) / 0.45
    weights = np.exp(-0.5 * z**2) / GRID_US
    counts = rng.multinomial(n, weights / weights.sum())
    hist = hdr.new_histogram()
    for value, count in zip(GRID_US[counts > 0], counts[counts > 0], strict=True):
        hist.record_value(int(value), int(count))
    return hdr.encode(hist), counts


PCTS = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p99.9": 0.999}


def _grid_stats(counts: np.ndarray) -> dict[str, float | str]:
    """Percentiles (ms) of grid counts: the timeseries.csv columns, computed with numpy.

    (runfolder.figures.write_timeseries gives the same columns but walks every histogram
    in Python: minutes for 3,600 windows; the benchmark times the report, not that.)
    """
    n = int(counts.sum())
    if not n:
        return {k: "" for k in (*PCTS, "max")}
    cum = np.cumsum(counts)
    out: dict[str, float | str] = {
        k: GRID_US[int(np.searchsorted(cum, q * n))] / 1000 for k, q in PCTS.items()
    }
    out["max"] = GRID_US[np.nonzero(counts)[0][-1]] / 1000
    return out


def synthesize(run_dir: Path, targets: list[str], seconds: int, rps: float, warmup: float) -> int:
    rng = np.random.default_rng(1)
    run_dir.mkdir(parents=True)
    cells, rows, total = [], [], 0
    for target in targets:
        cell_id = f"{target}-gunicorn-gthread-browse"
        cells.append(
            {
                "cell_id": cell_id,
                "target": target,
                "server": "gunicorn-gthread",
                "scenario": "browse",
                "workers": 2,
                "threads": 8,
                "instances": 1,
                "users": 64,
                "rate": None,
                "repetitions": 1,
            }
        )
        windows, series = [], []
        window = SteadyWindow.of(START, warmup, seconds)
        for t in range(seconds + int(warmup) + 1):
            drift = 1 + 0.1 * math.sin(t / 300)
            endpoints = {}
            all_counts = np.zeros(len(GRID_US), dtype=np.int64)
            for name, (share, median) in ENDPOINTS.items():
                n = int(rng.poisson(rps * share))
                encoded, counts = _window_hist(rng, n, median * drift)
                all_counts += counts
                failed = 1 if t % 97 == 0 else 0
                series.append(
                    {
                        "t": t,
                        "endpoint": name,
                        "users": 64,
                        "requests": n + failed,
                        "failures": failed,
                        "rps": n + failed,
                        **_grid_stats(counts),
                        "steady": int(window.contains(t)),
                    }
                )
                endpoints[name] = {
                    "count": n,
                    "hist": encoded,
                    "corrected_hist": None,
                    "failures": {"500": 1} if t % 97 == 0 else {},
                    "profiled": 0,
                }
                total += n
            windows.append({"t": t, "users": 64, "endpoints": endpoints})
            requests = sum(r["requests"] for r in series[-len(ENDPOINTS) :])
            failures = sum(r["failures"] for r in series[-len(ENDPOINTS) :])
            series.append(
                {
                    "t": t,
                    "endpoint": "ALL",
                    "users": 64,
                    "requests": requests,
                    "failures": failures,
                    "rps": requests,
                    **_grid_stats(all_counts),
                    "steady": int(window.contains(t)),
                }
            )
        recorder = {
            "format_version": 1,
            "unit": "us",
            "start_unix": START,
            "window_s": 1,
            "warmup_s": warmup,
            "shape": "constant",
            "processes": 1,
            "open_model": None,
            "windows": windows,
            "locust_totals": {},
        }
        cell_dir = run_dir / "cells" / cell_id / "r0"
        cell_dir.mkdir(parents=True)
        (cell_dir / "recorder.json").write_text(json.dumps(recorder))
        cpu = [
            {
                "t": t + 0.5,
                "generator_cpu_pct": 70 + 5 * math.sin(t / 50),
                "generator_cpu_max_pct": 70 + 5 * math.sin(t / 50),
                "server_cpu_pct": 95 + 3 * math.cos(t / 40),
                "server_rss_mb": 120.0,
            }
            for t in range(len(windows))
        ]
        with (cell_dir / "cpu.csv").open("w") as fh:
            fh.write(",".join(cpu[0]) + "\n")
            fh.writelines(",".join(f"{v:.1f}" for v in r.values()) + "\n" for r in cpu)
        with (cell_dir / "timeseries.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=figures.TIMESERIES_FIELDS)
            writer.writeheader()
            writer.writerows(series)
        measured = figures.summarize_cell(recorder, cpu, warmup=warmup, duration=seconds)
        rows.append(
            {
                "cell_id": cell_id,
                "repetition": 0,
                "dir": f"cells/{cell_id}/r0",
                "target": target,
                "server": "gunicorn-gthread",
                "scenario": "browse",
                "workers": 2,
                "threads": 8,
                "instances": 1,
                "users": 64,
                "rate": None,
                "shape": "constant",
                "processes": 1,
                "profiled": False,
                "duration_s": float(seconds),
                "warmup_s": warmup,
                **measured,
            }
        )
    meta = {
        "format_version": 1,
        "status": "complete",
        "name": run_dir.name,
        "created": "2026-11-27T03:00:00Z",
        "finished": "2026-11-27T04:00:00Z",
        "error": None,
        "profiled": False,
        "git": {"commit": "0" * 40, "dirty": False},
        "machine": {
            "hostname": "bench",
            "cpu_model": "synthetic",
            "cpus": 2,
            "memory_gb": 8.0,
            "os": "Linux",
        },
        "python": "3.11",
        "packages": {"flask": "3.1.3"},
        "pinning": {"server_cpus": [1], "generator_cpus": [0]},
        "config": {"targets": targets, "duration": seconds, "warmup": warmup},
        "commands": [],
        "cells": cells,
    }
    (run_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    (run_dir / "summary.json").write_text(json.dumps({"format_version": 1, "rows": rows}))
    return total


def measure(run_dir: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, bytes) of one report build in this (warm) process."""
    from reports.report import render_report

    wall, cpu = time.perf_counter(), time.process_time()
    path = render_report(run_dir)
    return time.perf_counter() - wall, time.process_time() - cpu, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the synthetic runs here and keep them")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="report-size-"))
    import reports.report  # noqa: F401  (imports are not part of the build time)

    t0 = time.perf_counter()
    hour = base / "20261127T030000Z_one-hour"
    requests = synthesize(hour, ["sync"], seconds=3600, rps=1000, warmup=10)
    suite = base / "20261127T030000Z_default"
    synthesize(suite, ["sync", "async", "cached", "uncached"], seconds=40, rps=300, warmup=5)
    recorder_mb = (
        hour / "cells" / "sync-gunicorn-gthread-browse" / "r0" / "recorder.json"
    ).stat().st_size / 2**20
    print(
        f"synthesized in {time.perf_counter() - t0:.1f} s: one-hour run {requests:,} requests "
        f"in 3,611 windows x {len(ENDPOINTS)} endpoints (recorder.json {recorder_mb:.1f} MB)"
    )
    wall, cpu, size = measure(hour)
    ok = "ok" if wall <= 5 and size <= 2 * 2**20 else "OVER GOAL"
    print(
        f"one-hour report:     build {wall:.2f} s wall ({cpu:.2f} s CPU), "
        f"size {size / 2**20:.2f} MB  [goal <= 5 s, <= 2 MB: {ok}]"
    )
    wall, cpu, size = measure(suite)
    ok = "ok" if size <= 2**20 else "OVER GOAL"
    print(
        f"default-suite report: build {wall:.2f} s wall ({cpu:.2f} s CPU), "
        f"size {size / 2**20:.2f} MB  [goal <= 1 MB: {ok}]"
    )
    if args.keep:
        print(f"run folders kept in {base}")
    else:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
