"""Regression attribution: per-repetition ms/request per function, with an interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.attribution import function_changes
from runfolder.reader import Run
from tests.profiles.synth import write_raw


def _side(root: Path, side: str, slow_ms: float, reps: int = 4) -> Run:
    rows = []
    for rep in range(reps):
        cell = f"app-gunicorn-sync-json-{side}"
        rep_dir = root / "cells" / cell / f"r{rep}"
        jitter = 0.1 * rep
        requests = [
            (
                "GET /json",
                10.0,
                [
                    (["view", "query"], (2.0 + jitter) / 1000),
                    (["view", "slow_part"], (slow_ms + jitter) / 1000),
                ],
            )
            for _ in range(20)
        ]
        write_raw(rep_dir / "profiles" / "w1.json", requests)
        rows.append(
            {
                "cell_id": cell,
                "repetition": rep,
                "dir": str(rep_dir.relative_to(root)),
                "server": "gunicorn-sync",
                "scenario": "json",
                "side": side,
                "profiled": True,
                "endpoints": {},
            }
        )
    return Run(path=root, meta={"profiled": True}, rows=rows)


def test_the_slowed_function_leads_with_an_interval_that_excludes_zero(tmp_path: Path) -> None:
    base, cand = _side(tmp_path, "baseline", 1.0), _side(tmp_path, "candidate", 4.0)
    rows = function_changes(base, cand)
    top = rows[0]
    assert top["function"] in ("slow_part", "view")
    slow = next(r for r in rows if r["function"] == "slow_part")
    assert slow["change_ms"] == pytest.approx(3.0, abs=0.05)
    assert 0 < slow["ci_low_ms"] <= slow["change_ms"] <= slow["ci_high_ms"]
    query = next(r for r in rows if r["function"] == "query")
    assert abs(query["change_ms"]) < 0.05
    assert slow["reps"] == [4, 4]
