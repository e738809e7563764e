"""The report's first section, from a summary's studies and capacity rows."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from reports import charts, suite_tables
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
        "throughput": 115.0,
        "segments": [110.0, 118.0, 117.0],
        "cpu_ms": 8.2,
    },
    "variant": {
        "target": "cached",
        "server": "gunicorn-gthread",
        "throughput": 160.0,
        "segments": [150.0, 165.0, 165.0],
        "cpu_ms": 5.75,
    },
    "ratio": 1.39,
    "ci": [1.32, 1.48],
    "pairs": 3,
    "orders": ["AB", "BA", "AB"],
    "common": {
        "rate": 81.0,
        "base_p99": 58.9,
        "base_thin": False,
        "base_within_slo": False,
        "variant_p99": 9.4,
        "variant_thin": True,
        "variant_within_slo": True,
    },
    "verdict": "caching: 1.39x the throughput",
    "answer": "1.39x the throughput",
    "why": "why: CPU per request 8.20 -> 5.75 ms",
}
HEADLINE: dict[str, Any] = {
    "target": "sync",
    "server": "gunicorn-gthread",
    "users": 16,
    "endpoints": [
        {
            "endpoint": "POST /login",
            "rps": 9.0,
            "p50": 310.0,
            "p99": 820.0,
            "thin": ["p99"],
            "error_pct": 0.0,
            "hotspots": [{"function": "scrypt", "self_ms": 95.1}],
        }
    ],
}


def test_answers_table_leads_with_ratio_interval_and_thin_marks() -> None:
    row = answers_frame({"studies": [STUDY]}).iloc[0]
    assert row["ratio (95% CI)"] == "1.39× (1.32–1.48)"
    assert row["req/s at saturation"] == "115 → 160"
    assert row["CPU per request"] == "8.20 ms → 5.75 ms"
    assert row["p99 at common rate"] == "58.9 ms ✗ → thin (9.4 ms) at 81/s"
    assert row["pairs"] == "3"
    assert row["why"].startswith("why: CPU per request")


def test_terminal_and_html_render_one_table() -> None:
    """The terminal prints the very rows the HTML report shows."""
    tab = suite_tables.answers_table({"studies": [STUDY]})
    console = Console(record=True, width=400)
    suite_tables.render_terminal(tab, console)
    text = console.export_text()
    html_row = answers_frame({"studies": [STUDY]}).iloc[0]
    for column in tab.columns:
        assert str(html_row[column]) in text
    head = suite_tables.headline_table(HEADLINE)
    suite_tables.render_terminal(head, console)
    assert "thin (820.0 ms)" in console.export_text() and "scrypt 95.1 ms" in head.rows[0][5]
    assert list(suite_tables.frame(head).columns) == list(head.columns)


def test_study_and_ladder_charts_are_svg() -> None:
    assert study_chart(STUDY).startswith("<svg")
    steps = [{"rate": r, "p99": p} for r, p in ((50, 5.0), (100, 12.0), (200, 400.0))]
    row = {
        "cell_id": "sync-gunicorn-gthread-json",
        "capacity": {"rate": 100.0, "slo": {"p99_ms": 50.0}, "steps": steps},
    }
    svg = charts.ladder_chart([row], "Capacity ladder")
    assert svg.startswith("<svg") and "SLO p99 50 ms" in svg
