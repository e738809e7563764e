"""The report's first section, from a summary's studies and capacity rows."""

from __future__ import annotations

from typing import Any

from reports import charts
from reports.answers import answers_frame, study_chart

STUDY: dict[str, Any] = {
    "key": "caching-queries",
    "technique": "caching",
    "workload": "/queries?queries=20",
    "control": False,
    "slo": {"p99_ms": 50.0, "error_pct": 0.1, "text": "p99 <= 50 ms"},
    "baseline": {
        "target": "uncached",
        "server": "gunicorn-gthread",
        "capacity": 115.0,
        "repetitions": [110.0, 118.0, 117.0],
    },
    "variant": {
        "target": "cached",
        "server": "gunicorn-gthread",
        "capacity": 160.0,
        "repetitions": [150.0, 165.0, 165.0],
    },
    "ratio": 1.39,
    "ci": [1.32, 1.48],
    "common": {
        "rate": 81.0,
        "base_p99": 18.9,
        "base_thin": False,
        "variant_p99": 9.4,
        "variant_thin": True,
    },
    "verdict": "caching: 1.39x capacity",
    "why": "why: cached spends cache_get 0.2 ms",
}


def test_answers_table_leads_with_ratio_interval_and_thin_marks() -> None:
    row = answers_frame({"studies": [STUDY]}).iloc[0]
    assert row["ratio (95% CI)"] == "1.39× (1.32–1.48)"
    assert row["capacity req/s"] == "115 → 160"
    assert row["p99 ms at common rate"] == "18.9 → thin (9.4) at 81/s"
    assert row["why (profiled samples)"].startswith("why: cached")


def test_study_and_ladder_charts_are_svg() -> None:
    assert study_chart(STUDY).startswith("<svg")
    steps = [{"rate": r, "p99": p} for r, p in ((50, 5.0), (100, 12.0), (200, 400.0))]
    row = {
        "cell_id": "sync-gunicorn-gthread-json",
        "capacity": {"rate": 100.0, "slo": {"p99_ms": 50.0}, "steps": steps},
    }
    svg = charts.ladder_chart([row], "Capacity ladder")
    assert svg.startswith("<svg") and "SLO p99 50 ms" in svg
