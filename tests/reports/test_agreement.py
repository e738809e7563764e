"""The report and summary.json agree on every figure, even for a run interrupted
in its second repetition (the case where a reader's own steady-window rule drifted)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from loadtests import histograms as H
from reports.endpoints import cell_figures
from reports.report import render_report
from runfolder import figures
from runfolder.reader import load_run
from runfolder.window import SteadyWindow, steady_window
from runfolder.writer import RunWriter

START = 1_764_213_000.4
WARMUP, DURATION = 2.0, 8.0


def _recorder(seconds: int, seed: int) -> dict:
    rng = random.Random(seed)
    windows = []
    for t in range(seconds):
        hist = H.new_histogram()
        values = [rng.lognormvariate(0, 0.6) * (3 if t == seconds - 1 else 1) for _ in range(200)]
        for v in values:
            H.record(hist, v)
        windows.append(
            {
                "t": t,
                "users": 8,
                "endpoints": {
                    "GET /json": {
                        "count": len(values),
                        "hist": H.encode(hist),
                        "corrected_hist": None,
                        "failures": {"500": 1},
                        "profiled": 0,
                    }
                },
            }
        )
    return {
        "format_version": 1,
        "unit": "us",
        "start_unix": START,
        "window_s": 1,
        "warmup_s": WARMUP,
        "shape": "constant",
        "processes": 1,
        "open_model": None,
        "windows": windows,
        "locust_totals": {},
    }


def _interrupted_run(out: Path) -> Path:
    """Two repetitions of one cell; the second stopped (Ctrl-C) 6 s into its 10."""
    writer = RunWriter.create(out, "agree", {"cells": [{"cell_id": "sync-x-json"}]})
    for rep, seconds in ((0, 11), (1, 6)):
        recorder = _recorder(seconds, seed=rep)
        cell_dir = writer.run_dir / "cells" / "sync-x-json" / f"r{rep}"
        cell_dir.mkdir(parents=True)
        (cell_dir / "recorder.json").write_text(json.dumps(recorder))
        row = figures.summarize_cell(recorder, [], warmup=WARMUP, duration=DURATION)
        writer.add_row(
            {
                "cell_id": "sync-x-json",
                "repetition": rep,
                "dir": str(cell_dir.relative_to(writer.run_dir)),
                "target": "sync",
                "server": "x",
                "scenario": "json",
                "warmup_s": WARMUP,
                "duration_s": DURATION,
                **row,
            }
        )
    writer.finish("interrupted", "interrupted by the user (Ctrl-C)")
    return writer.run_dir


def test_report_and_summary_agree_for_a_run_interrupted_in_its_second_repetition(
    tmp_path: Path,
) -> None:
    run_dir = _interrupted_run(tmp_path)
    run = load_run(run_dir)
    rows = run.cell_rows("sync-x-json")
    # the case that used to drift: the configured window runs past the last whole second
    rec1 = run.recorder(rows[1])
    assert rec1 is not None
    configured = SteadyWindow.of(START, WARMUP, DURATION)
    stored = SteadyWindow.from_json(rows[1]["steady_window"])
    assert stored == steady_window(rec1, WARMUP, DURATION)
    assert stored is not None and stored.last < configured.last

    hists = run.cell_histograms("sync-x-json")
    merged = {f.endpoint: f for f in cell_figures(run, "sync-x-json", hists)}["GET /json"]
    entries = [r["endpoints"]["GET /json"] for r in rows]
    assert merged.requests == sum(e["requests"] for e in entries)
    assert merged.failed == sum(sum(e["failures"].values()) for e in entries)
    assert merged.latency is not None
    assert merged.latency["count"] == sum(e["latency_ms"]["count"] for e in entries)
    assert merged.rps == sum(e["rps"] for e in entries) / 2

    # each repetition read back through the reader gives the row's own figures exactly
    for row, entry in zip(rows, entries, strict=True):
        recorder = run.recorder(row)
        assert recorder is not None
        window = run.steady(row, recorder)
        acc = H.new_histogram()
        for w in recorder["windows"]:
            if window.contains(int(w["t"])):
                H.merge_into(acc, H.decode(w["endpoints"]["GET /json"]["hist"]))
        assert figures.latency_stats(acc) == entry["latency_ms"]

    render_report(run_dir)  # and the report builds from it
    assert (run_dir / "report.html").stat().st_size > 0


def test_n_above_is_exact() -> None:
    assert figures.samples_above(1000, 90.0) == 100
    assert figures.samples_above(1000, 99.9) == 1
    assert figures.samples_above(10_000, 99.9) == 10
    assert "p99.9" not in figures.thin_percentiles(10_000)
    assert "p99.9" in figures.thin_percentiles(9_999)


def test_an_endpoint_with_only_failures_leaves_the_all_minimum_alone(tmp_path: Path) -> None:
    recorder = _recorder(11, seed=3)
    for w in recorder["windows"]:
        w["endpoints"]["GET /broken"] = {
            "count": 0,
            "hist": H.encode(H.new_histogram()),
            "corrected_hist": None,
            "failures": {"500": 5},
            "profiled": 0,
        }
    writer = RunWriter.create(tmp_path, "fails", {"cells": [{"cell_id": "c"}]})
    cell_dir = writer.run_dir / "cells" / "c" / "r0"
    cell_dir.mkdir(parents=True)
    (cell_dir / "recorder.json").write_text(json.dumps(recorder))
    row = figures.summarize_cell(recorder, [], warmup=WARMUP, duration=DURATION)
    writer.add_row(
        {"cell_id": "c", "repetition": 0, "warmup_s": WARMUP, "duration_s": DURATION, **row}
    )
    writer.finish("complete")
    hists = load_run(writer.run_dir).cell_histograms("c")
    assert hists.endpoints["ALL"].get_min_value() == hists.endpoints["GET /json"].get_min_value()
    assert row["endpoints"]["ALL"]["latency_ms"]["min"] > 0
