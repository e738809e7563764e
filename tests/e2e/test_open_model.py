"""Coordinated omission: a 1 s server stall under an open-model run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import latest_run, run_with_stall

pytestmark = pytest.mark.e2e


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


def test_requests_dropped_in_a_long_stall_are_visible(workdir: Path) -> None:
    # 500 req/s, 3 s stall: after 2 s 1,000 requests are in flight and the rest are dropped
    row = run_with_stall(workdir, rate=500, warmup=1, duration=6, stall_after=1, stall=3.0)
    om = row["open_model"]
    total = row["endpoints"]["ALL"]
    assert om["dropped_steady"] >= 200, om
    assert total["failures"].get("dropped") == om["dropped_steady"]
    assert total["dropped"] == om["dropped_steady"]
    assert total["error_pct"] > 0
    assert any("dropped in the steady window" in w for w in row["warnings"]), row["warnings"]
    corrected = row["endpoints"]["GET /json"]["corrected_latency_ms"]
    assert corrected["p99"] >= 2000, corrected
    report = (latest_run(workdir / "runs") / "report.html").read_text()
    assert f"{om['dropped_steady']} scheduled requests were dropped in the steady" in report
