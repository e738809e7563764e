"""Loading run folders: validated objects, DataFrames, clear errors on bad folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from runfolder.errors import RunFolderError
from runfolder.reader import ALL, load_run, resolve_run
from tests.reports.samples import CORRUPT, DEFAULT, HALF, OPEN, REG_A


def test_default_run_loads_with_summary_frame(runs_dir: Path) -> None:
    run = load_run(runs_dir / DEFAULT)
    assert run.status == "complete" and not run.warnings
    assert run.cell_ids() == [
        f"{t}-gunicorn-sync-browse" for t in ("sync", "async", "cached", "uncached")
    ]
    summary = json.loads((runs_dir / DEFAULT / "summary.json").read_text())
    frame = run.summary
    row = frame[(frame.cell_id == "sync-gunicorn-sync-browse") & (frame.endpoint == "GET /items")]
    expected = summary["rows"][0]["endpoints"]["GET /items"]
    assert row["rps"].item() == expected["rps"]
    assert row["p99"].item() == expected["latency_ms"]["p99"]
    assert row["count"].item() == expected["latency_ms"]["count"]
    assert set(frame.endpoint) >= {ALL, "POST /login"}


def test_latest_and_names_resolve(runs_dir: Path) -> None:
    assert resolve_run("latest", runs_dir) == runs_dir / DEFAULT
    assert resolve_run(OPEN, runs_dir) == runs_dir / OPEN
    assert resolve_run(runs_dir / OPEN, runs_dir) == runs_dir / OPEN


def test_latest_without_pointer_or_stale_pointer(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="no runs"):
        resolve_run("latest", tmp_path)
    (tmp_path / "latest").write_text("gone\n")
    with pytest.raises(RunFolderError, match="not a folder"):
        resolve_run("latest", tmp_path)
    with pytest.raises(RunFolderError, match="no such run folder"):
        resolve_run("nope", tmp_path)


def test_corrupt_meta_is_a_one_line_error(runs_dir: Path) -> None:
    with pytest.raises(RunFolderError, match="not valid JSON") as exc:
        load_run(runs_dir / CORRUPT)
    assert "\n" not in exc.value.message


def test_half_written_run_is_refused(runs_dir: Path) -> None:
    with pytest.raises(RunFolderError, match="half-written") as exc:
        load_run(runs_dir / HALF)
    assert "\n" not in exc.value.message


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda p: (p / "meta.json").unlink(), "meta.json is missing"),
        (lambda p: (p / "summary.json").write_text('{"rows": ['), "not valid JSON"),
        (
            lambda p: (p / "summary.json").write_text('{"format_version": 7, "rows": []}'),
            "format_version 7",
        ),
        (
            lambda p: (p / "summary.json").write_text('{"format_version": 1, "rows": [{}]}'),
            "has no 'cell_id'",
        ),
        (
            lambda p: (p / "meta.json").write_text('{"format_version": 1, "status": "odd"}'),
            "status 'odd'",
        ),
        (lambda p: (p / "meta.json").write_text("[1, 2]"), "not an object"),
        (lambda p: (p / "summary.json").unlink(), "no summary.json"),
    ],
)
def test_damaged_folders_raise_run_folder_error(fresh_run, damage, match: str) -> None:
    path = fresh_run(OPEN)
    damage(path)
    with pytest.raises(RunFolderError, match=match):
        load_run(path)


def test_corrupt_recorder_histogram_is_reported(fresh_run) -> None:
    path = fresh_run(OPEN)
    rec_path = path / "cells" / "sync-gunicorn-sync-json" / "r0" / "recorder.json"
    rec = json.loads(rec_path.read_text())
    rec["windows"][5]["endpoints"]["GET /json"]["hist"] = "bm90IGEgaGlzdG9ncmFt"
    rec_path.write_text(json.dumps(rec))
    run = load_run(path)
    with pytest.raises(RunFolderError, match="does not decode"):
        run.cell_histograms("sync-gunicorn-sync-json")


def test_timeseries_derived_from_recorder_matches_csv(fresh_run) -> None:
    path = fresh_run(OPEN)
    run = load_run(path)
    row = run.rows[0]
    from_csv = run.timeseries(row)
    (run.rep_dir(row) / "timeseries.csv").unlink()
    derived = run.timeseries(row)
    cols = ["t", "requests", "rps", "p50", "p99", "steady"]
    pd.testing.assert_frame_equal(
        from_csv[cols].reset_index(drop=True),
        derived[cols].reset_index(drop=True),
        check_dtype=False,
    )


def test_cell_histograms_merge_repetitions(runs_dir: Path) -> None:
    run = load_run(runs_dir / REG_A)
    cell = run.cell_ids()[0]
    hists = run.cell_histograms(cell)
    assert hists.repetitions == 5
    counts = sum(r["endpoints"][ALL]["latency_ms"]["count"] for r in run.cell_rows(cell))
    assert hists.endpoints[ALL].get_total_count() == counts


def test_failed_run_with_summary_loads_with_warning(fresh_run) -> None:
    path = fresh_run(OPEN)
    meta = json.loads((path / "meta.json").read_text())
    meta.update(status="failed", error="server died")
    (path / "meta.json").write_text(json.dumps(meta))
    run = load_run(path)
    assert any("failed (server died)" in w for w in run.warnings)


def test_cpu_frame(runs_dir: Path) -> None:
    run = load_run(runs_dir / DEFAULT)
    cpu = run.cpu(run.rows[0])
    assert {"t", "server_cpu_pct", "generator_cpu_max_pct"} <= set(cpu.columns)
    assert len(cpu) > 5
    shutil.rmtree(runs_dir / "unused", ignore_errors=True)
