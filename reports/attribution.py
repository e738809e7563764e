"""Regression attribution: the functions whose time per request changed most, with an interval.

Both sides profiled: per repetition, each function's inclusive ms per request
(``profiles.aggregate``'s hotspot table over that repetition's sampled requests); the
change is median(candidate) - median(baseline) over repetitions, its interval a seeded
bootstrap over repetitions (``reports.stats.CONFIDENCE``). A function absent from a
repetition's table counts as 0 ms there. With one repetition a side there is no
interval (shown as the change alone).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats as _stats

from reports.comparison import cell_key
from reports.stats import BOOTSTRAP_RESAMPLES, CONFIDENCE, SEED
from runfolder.reader import Run

TOP_FUNCTIONS = 10

Key = tuple[str, str, str]  # endpoint, function, file


def per_repetition(run: Run) -> dict[str, list[dict[Key, float]]]:
    """Match key of a cell -> one {(endpoint, function, file): ms/request} per repetition."""
    from profiles.aggregate import hotspot_table
    from profiles.stacks import Tables, load_cell

    keys = cell_key(run)
    out: dict[str, list[dict[Key, float]]] = {}
    for cid in run.cell_ids():
        reps = []
        measured = {e for row in run.cell_rows(cid) for e in row["endpoints"]}
        for row in run.cell_rows(cid):
            files = sorted((run.rep_dir(row) / "profiles").glob("*.json"))
            if not files:
                continue
            tables = Tables()
            figures: dict[Key, float] = {}
            for endpoint, ep in load_cell(files, tables).items():
                if measured and endpoint not in measured:
                    continue  # verify's requests to endpoints the scenario does not measure
                for h in hotspot_table(ep.requests, tables):
                    figures[(endpoint, h["function"], h["file"])] = float(h["total_ms"])
            reps.append(figures)
        if reps:
            out[" · ".join(keys[cid])] = reps
    return out


def _interval(a: list[float], b: list[float]) -> tuple[float | None, float | None]:
    if min(len(a), len(b)) < 2:
        return None, None

    def diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(y, axis=axis) - np.median(x, axis=axis)  # type: ignore[no-any-return]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no spread: the interval collapses to the change
        res = _stats.bootstrap(
            (np.asarray(a), np.asarray(b)),
            diff,
            vectorized=True,
            confidence_level=CONFIDENCE,
            n_resamples=BOOTSTRAP_RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(SEED),
        )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return (None, None) if np.isnan(low) or np.isnan(high) else (low, high)


def function_changes(base: Run, cand: Run) -> list[dict[str, Any]]:
    """Rows (cell, endpoint, function, file, ms/req A and B, change and its interval),
    largest absolute change first, at most ``TOP_FUNCTIONS`` per cell and endpoint."""
    a, b = per_repetition(base), per_repetition(cand)
    if not (set(a) & set(b)) and base.path != cand.path:
        # no raw sessions per repetition (only hotspots.json): the change alone, no interval
        from profiles.diff import diff_hotspots

        return [
            {**r, "cell": r["cell_id"], "ci_low_ms": None, "ci_high_ms": None}
            for r in diff_hotspots(base.path, cand.path)[: TOP_FUNCTIONS * 2]
        ]
    rows: list[dict[str, Any]] = []
    for cell in sorted(set(a) & set(b)):
        keys = {k for rep in a[cell] + b[cell] for k in rep}
        by_endpoint: dict[str, list[dict[str, Any]]] = {}
        for key in keys:
            va = [rep.get(key, 0.0) for rep in a[cell]]
            vb = [rep.get(key, 0.0) for rep in b[cell]]
            ma, mb = float(np.median(va)), float(np.median(vb))
            low, high = _interval(va, vb)
            by_endpoint.setdefault(key[0], []).append(
                {
                    "cell": cell,
                    "endpoint": key[0],
                    "function": key[1],
                    "file": key[2],
                    "ms_a": round(ma, 4),
                    "ms_b": round(mb, 4),
                    "change_ms": round(mb - ma, 4),
                    "ci_low_ms": None if low is None else round(low, 4),
                    "ci_high_ms": None if high is None else round(high, 4),
                    "reps": [len(va), len(vb)],
                }
            )
        for endpoint in sorted(by_endpoint):
            found = sorted(by_endpoint[endpoint], key=lambda r: -abs(r["change_ms"]))
            rows += found[:TOP_FUNCTIONS]
    rows.sort(key=lambda r: -abs(r["change_ms"]))
    return rows
