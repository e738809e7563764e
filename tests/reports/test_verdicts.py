"""The gate on synthetic summary rows: goodput, error share, and rows that cannot decide."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from reports.compare import compare_loaded
from reports.gate import parse_fail_on
from reports.stats import REGRESSED, SAME, UNDECIDED
from runfolder.figures import ALL
from runfolder.reader import Run

GATE = parse_fail_on("rps:-5%,p50:+5%,p99:+10%")


def _row(rep: int, rps: float, p50: float, error_share: float = 0.0, **extra: Any) -> dict:
    seconds = 10
    requests = int(rps * seconds)
    failed = int(requests * error_share)
    entry = {
        "requests": requests,
        "failures": {"500": failed} if failed else {},
        "rps": rps,
        "latency_ms": {"p50": p50, "p90": p50 * 1.5, "p99": p50 * 2, "p99.9": p50 * 3},
        "thin": [],
    }
    return {
        "cell_id": "sync-gunicorn-sync-json",
        "repetition": rep,
        "target": "sync",
        "server": "gunicorn-sync",
        "scenario": "json",
        "steady_seconds": seconds,
        "generator_bound": False,
        "open_model": None,
        "warnings": [],
        "endpoints": {"GET /json": entry, ALL: entry},
        **extra,
    }


def _run(name: str, rows: list[dict]) -> Run:
    return Run(path=Path("/nonexistent") / name, meta={"status": "complete"}, rows=rows)


def _reps(n: int, rps: float, p50: float, seed: int, **kw: Any) -> list[dict]:
    rng = random.Random(seed)
    return [
        _row(k, rps * rng.lognormvariate(0, 0.01), p50 * rng.lognormvariate(0, 0.01), **kw)
        for k in range(n)
    ]


def test_quiet_identical_sides_pass() -> None:
    cmp = compare_loaded(
        _run("a", _reps(6, 1000, 2.0, 1)), [_run("b", _reps(6, 1000, 2.0, 2))], GATE
    )
    assert cmp.exit_code() == 0, [str(f) for f in cmp.undecided]
    assert cmp.rows[0].changes["rps"].verdict == SAME


def test_fail_fast_candidate_fails_the_gate() -> None:
    """30% of requests answered 500 at once: as many responses per second, faster, wrong."""
    base = _run("a", _reps(6, 1000, 2.0, 1))
    cand = _run("b", _reps(6, 1000 / 0.85, 1.7, 2, error_share=0.3))
    cmp = compare_loaded(base, [cand], parse_fail_on("p50:+5%"))  # errors not named
    row = cmp.rows[0]
    assert row.changes["errors"].verdict == REGRESSED
    assert row.changes["rps"].verdict == REGRESSED  # goodput: successful responses only
    assert cmp.exit_code() == 1
    assert any(f.metric == "errors" for f in cmp.violations)


def test_single_repetition_is_undecided_not_pass() -> None:
    cmp = compare_loaded(
        _run("a", _reps(1, 1000, 2.0, 1)), [_run("b", _reps(1, 1000, 2.0, 2))], GATE
    )
    assert {c.verdict for m, c in cmp.rows[0].changes.items() if m != "errors"} == {UNDECIDED}
    assert cmp.exit_code() == 3


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"generator_bound": True}, "generator-bound"),
        ({"open_model": {"rate": 100, "dropped": 12}}, "dropped open-model requests"),
        ({"verify": "failed: GET /json answered 500"}, "failed verify"),
    ],
)
def test_untrustworthy_rows_are_undecided_with_the_reason(extra: dict, reason: str) -> None:
    """Two generator-capped runs must not compare "same"."""
    base = _run("a", _reps(6, 1000, 2.0, 1, **extra))
    cand = _run("b", _reps(6, 1000, 2.0, 2, **extra))
    cmp = compare_loaded(base, [cand], GATE)
    for metric in ("rps", "p50", "p99"):
        c = cmp.rows[0].changes[metric]
        assert c.verdict == UNDECIDED and reason in c.why()
    assert cmp.exit_code() == 3
    assert any(reason in str(f) for f in cmp.undecided)


def test_thin_gated_percentile_is_undecided() -> None:
    rows = _reps(6, 1000, 2.0, 1)
    for r in rows:
        r["endpoints"]["GET /json"] = {**r["endpoints"]["GET /json"], "thin": ["p99", "p99.9"]}
    cmp = compare_loaded(_run("a", rows), [_run("b", _reps(6, 1000, 2.0, 2))], GATE)
    json_row = next(r for r in cmp.rows if r.endpoint == "GET /json")
    assert json_row.changes["p99"].verdict == UNDECIDED
    assert "p99 is thin" in json_row.changes["p99"].why()
    assert json_row.changes["p50"].verdict == SAME


def test_a_side_without_figures_is_undecided_not_skipped() -> None:
    """No steady window on the baseline (no endpoints at all): undecided, never a pass."""
    empty = [{**_row(k, 1000, 2.0), "endpoints": {}, "steady_seconds": 0} for k in range(4)]
    cmp = compare_loaded(_run("a", empty), [_run("b", _reps(4, 1000, 2.0, 2))], GATE)
    assert cmp.exit_code() == 3
    assert any("no value on the baseline" in str(f) for f in cmp.undecided)
    cmp = compare_loaded(_run("a", empty), [_run("b", empty)], GATE)
    assert [r.endpoint for r in cmp.rows] == [ALL] and cmp.exit_code() == 3
