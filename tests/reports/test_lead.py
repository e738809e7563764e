"""The lead: each cell's slowest endpoints, what dominates their tail, their top functions."""

from __future__ import annotations

import json
from pathlib import Path

from reports.lead import cell_leads, read_hotspot_cells, subject_name
from reports.report import build_context
from runfolder.reader import load_run
from tests.reports.samples import PROFILED


def _endpoint(p99: float, dominant: str | None = None) -> dict:
    breakdown = None
    if dominant:
        breakdown = {
            "dominant": dominant,
            "parts": {dominant: {"p50": 1.0, "p99": p99 * 0.8, "mean": 1.0}},
            "tail_share": {dominant: 0.8},
        }
    return {
        "requests": 100,
        "rps": 10.0,
        "error_pct": 0.0,
        "latency_ms": {"count": 100, "p50": p99 / 4, "p99": p99},
        "thin": [],
        "breakdown": breakdown,
    }


def test_slowest_first_with_the_dominant_part_and_top_functions() -> None:
    row = {
        "cell_id": "server-gunicorn-sync-routes",
        "target": "server",
        "server": "gunicorn-sync",
        "scenario": "routes",
        "users": 8,
        "rate": None,
        "endpoints": {
            "GET /": _endpoint(2.0, "queue"),
            "GET /stats": _endpoint(40.0, "db"),
            "GET /about": _endpoint(5.0),
            "ALL": {**_endpoint(40.0), "rps": 30.0},
        },
    }
    hotspots = {
        "server-gunicorn-sync-routes": {
            "endpoints": {
                "GET /stats": {
                    "hotspots": [
                        {"function": "fetch_rows", "self_ms": 12.345},
                        {"function": "", "self_ms": 99.0},  # unnamed: never shown
                        {"function": "render", "self_ms": 3.0},
                    ]
                }
            }
        }
    }
    config = {"app": "wiki.server:app"}
    (lead,) = cell_leads([row], hotspots, lambda r: subject_name(config, r["target"]), slowest=2)
    assert [e.endpoint for e in lead.endpoints] == ["GET /stats", "GET /about"]
    stats = lead.endpoints[0]
    assert [h["function"] for h in stats.hotspots] == ["fetch_rows", "render"]
    assert stats.part_short == "the database: p99 32.00 ms, 80% of the client's p99"
    assert lead.endpoints[1].part == ""  # no Server-Timing: nothing invented
    assert lead.sentence() == (
        "wiki.server:app: 30 req/s with 8 users; the slowest endpoint is GET /stats "
        "(p99 40.0 ms), where fetch_rows takes 12.3 ms per request; the database "
        "dominates the tail (p99 32.00 ms, 80% of the client's p99)"
    )


def test_a_reference_target_keeps_its_name() -> None:
    assert subject_name({"app": None}, "sync") == "sync"
    assert subject_name(None, "cached") == "cached"


def test_the_report_leads_with_the_profiled_functions(runs_dir: Path) -> None:
    run = load_run(runs_dir / PROFILED)
    ctx = build_context(run)
    assert ctx["toc"][0] == ("lead", "Slowest endpoints")
    cells = read_hotspot_cells(run.path)
    assert cells  # the sample is profiled
    (sentence,) = ctx["lead_sentences"]
    slowest = max(
        (n for n in run.rows[0]["endpoints"] if n != "ALL"),
        key=lambda n: run.rows[0]["endpoints"][n]["latency_ms"]["p99"],
    )
    assert f"the slowest endpoint is {slowest}" in sentence
    assert ", where " in sentence and " ms per request" in sentence
    assert "top functions, self ms per request" in str(ctx["lead_table"])


def test_unreadable_hotspots_mean_none(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "hotspots.json").write_text(json.dumps({"cells": []}))
    assert read_hotspot_cells(tmp_path) == {}
    assert read_hotspot_cells(tmp_path / "missing") == {}
