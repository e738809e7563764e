"""A regression's verdict names the part of the request that grew."""

from __future__ import annotations

from typing import Any

from reports.breakdown import breakdown_table, part_that_grew, regression_part


def _row(**p99: float) -> dict[str, Any]:
    parts = {name: {"p50": v / 2, "p99": v, "mean": v / 2} for name, v in p99.items()}
    return {"endpoints": {"GET /db": {"breakdown": {"parts": parts, "timed": 100}}}}


def test_the_part_that_grew_most_is_named() -> None:
    base = [_row(queue=1.0, db=2.0, other=0.5), _row(queue=1.1, db=2.2, other=0.5)]
    cand = [_row(queue=1.2, db=6.0, other=0.6), _row(queue=1.1, db=6.4, other=0.5)]
    text = regression_part(base, cand, "GET /db", {"p99": "regressed", "rps": "no change"})
    assert text is not None and text.startswith("the database p99 grew 2.10 -> 6.20 ms")


def test_nothing_named_without_a_regression_or_a_grown_part() -> None:
    base = [_row(queue=1.0, db=2.0)]
    cand = [_row(queue=1.02, db=2.01)]
    assert regression_part(base, cand, "GET /db", {"p99": "no change"}) is None
    assert regression_part(base, cand, "GET /db", {"p99": "regressed"}) is None  # noise only
    assert regression_part(base, cand, "GET /other", {"p99": "regressed"}) is None
    assert part_that_grew(None, {"parts": {}}) is None


def test_the_median_is_looked_at_when_only_the_median_regressed() -> None:
    base, cand = [_row(up=10.0)], [_row(up=30.0)]
    text = regression_part(base, cand, "GET /db", {"p50": "regressed"})
    assert text == "upstream calls p50 grew 5.00 -> 15.00 ms (+200%)"


def test_table_says_absent_for_parts_not_seen() -> None:
    frame = breakdown_table({"GET /x": {"parts": {"app": {"p50": 1.0, "p99": 2.0}}}})
    assert frame.loc[0, "app p50/p99 ms"] == "1.00 / 2.00"
    assert frame.loc[0, "db p50/p99 ms"] == "absent"
