"""The gate on synthetic summary rows: goodput, error share, and rows that cannot decide."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from reports.compare import compare_loaded
from reports.comparison import REGRESSED, SAME, UNDECIDED
from reports.gate import parse_fail_on
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


# Paired rows: the two sides of one interleaved folder --------------------------------


def _ab_rows(pairs: int, change: float, seed: int, drift: float = 0.15) -> list[dict]:
    """An ``ab`` folder's rows: both sides per pair, a shared drift between pairs (the
    noisy neighbour), 2% noise within, the candidate ``change`` x the baseline's goodput."""
    rng = random.Random(seed)
    rows = []
    for k in range(pairs):
        level = rng.lognormvariate(0, drift)
        order = rng.choice(["AB", "BA"])
        for side, factor in (("baseline", 1.0), ("candidate", change)):
            rps = 1000 * level * factor * rng.lognormvariate(0, 0.02)
            rows.append(
                _row(
                    k,
                    rps,
                    1000 / rps,
                    side=side,
                    order=order,
                    cell_id=f"sync-gunicorn-sync-json-{side}",
                )
            )
    return rows


def _sides(rows: list[dict], meta: dict | None = None) -> tuple[Run, Run]:
    """As the ab command's callback hands them over: one Run per side, in memory."""
    return tuple(  # type: ignore[return-value]
        Run(path=Path(side), meta=meta or {}, rows=[r for r in rows if r["side"] == side])
        for side in ("baseline", "candidate")
    )


def test_paired_rows_find_a_5pct_change_under_drift() -> None:
    """15% drift between pairs hides a 5% drop from an unpaired test; the pairs see it."""
    base, cand = _sides(_ab_rows(30, 1 / 1.05, seed=4))
    cmp = compare_loaded(base, [cand], GATE)
    rps = cmp.rows[0].changes["rps"]
    assert rps.test == "paired" and rps.n_baseline == 30
    assert rps.verdict == REGRESSED, rps
    assert rps.ci_high is not None and rps.ci_high < 0
    assert cmp.exit_code() == 1
    assert cmp.tests[cand.name].startswith("paired")
    assert "(order AB " in cmp.tests[cand.name] and "BA " in cmp.tests[cand.name]
    # the same rows as two separate runs: unpaired, and the drift swamps the change
    plain = [{k: v for k, v in r.items() if k not in ("side", "order")} for r in base.rows]
    other = [{k: v for k, v in r.items() if k not in ("side", "order")} for r in cand.rows]
    for r in plain + other:
        r["cell_id"] = "sync-gunicorn-sync-json"
    unpaired = compare_loaded(_run("a", plain), [_run("b", other)], GATE)
    c = unpaired.rows[0].changes["rps"]
    assert c.test == "unpaired" and c.verdict == UNDECIDED
    assert "two separate runs cannot be paired" in unpaired.tests["b"]
    assert "Mann-Whitney" in unpaired.tests["b"]


def test_paired_identical_sides_pass_and_few_pairs_wait() -> None:
    base, cand = _sides(_ab_rows(12, 1.0, seed=4))
    cmp = compare_loaded(base, [cand], GATE)
    assert cmp.rows[0].changes["rps"].verdict == SAME
    assert cmp.exit_code() == 0, [str(f) for f in cmp.undecided]
    base, cand = _sides(_ab_rows(2, 1.0, seed=4))
    cmp = compare_loaded(base, [cand], GATE)
    assert cmp.exit_code() == 3
    # ab's callback keeps going: undecided for lack of pairs carries no measurement reason
    assert cmp.undecided and not any(f.reasons for f in cmp.undecided)
    assert all(
        "2 paired repetition(s), 3 needed" in f.observed
        for f in cmp.undecided
        if f.metric != "errors"
    )


def test_sides_of_two_ab_folders_do_not_pair() -> None:
    base, _ = _sides(_ab_rows(6, 1.0, seed=5), {"created": "one"})
    _, cand = _sides(_ab_rows(6, 1.0, seed=6), {"created": "two"})
    cmp = compare_loaded(base, [cand], GATE)
    assert cmp.rows[0].changes["rps"].test == "unpaired"
    assert "two different 'ab' folders" in cmp.tests[cand.name]


def test_outputs_name_the_test_and_interval() -> None:
    from reports.render.json import as_json
    from reports.render.markdown import markdown

    base, cand = _sides(_ab_rows(30, 1 / 1.05, seed=4))
    cmp = compare_loaded(base, [cand], GATE)
    md = markdown(cmp)
    assert "paired, 30 pairs" in md and "*Test* candidate: paired" in md
    data = as_json(cmp)
    assert data["rows"][0]["rps"]["test"] == "paired"
    low, high = data["rows"][0]["rps"]["ci"]
    assert low < high < 0
    assert any("(paired, 30 pairs)" in f["observed"] for f in data["regressions"])


def test_a_new_metric_is_one_entry_in_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in metric (memory per request): one entry of METRICS, and it is parsed by the
    gate, compared and judged like the others."""
    from reports import compare as compare_module
    from reports import comparison, gate, stats
    from reports.comparison import METRICS, Metric

    def mem(entry: dict, row: dict) -> float | None:
        return entry.get("mem_kb")

    metrics = (*METRICS, Metric("mem", "kB", False, 5.0, mem, shown=True))
    for module in (comparison, compare_module, gate, stats):  # the modules that read the list
        if hasattr(module, "METRICS"):
            monkeypatch.setattr(module, "METRICS", metrics)
        if hasattr(module, "METRIC"):
            monkeypatch.setattr(module, "METRIC", {m.name: m for m in metrics})
    rows = _ab_rows(12, 1.0, seed=7)
    rng = random.Random(7)
    for r in rows:
        for e in r["endpoints"].values():
            e["mem_kb"] = (1.3 if r["side"] == "candidate" else 1.0) * rng.lognormvariate(0, 0.02)
    base, cand = _sides(rows)
    cmp = compare_loaded(base, [cand], parse_fail_on("mem:+5%"))
    assert cmp.rows[0].changes["mem"].verdict == REGRESSED
    assert [f.metric for f in cmp.violations] == ["mem", "mem"]  # all endpoints, GET /json


def _with_slow(rows: list[dict], factor: float) -> list[dict]:
    """Each row gets a second endpoint, GET /slow, its latency ``factor`` times GET /json's
    (the merged ALL entry left as it is: a rarely hit route)."""
    for row in rows:
        entry = dict(row["endpoints"]["GET /json"])
        entry["latency_ms"] = {k: v * factor for k, v in entry["latency_ms"].items()}
        row["endpoints"] = {**row["endpoints"], "GET /slow": entry}
    return rows


def test_the_gate_judges_only_the_endpoints_named() -> None:
    from runfolder.errors import ConfigError

    base = _run("a", _with_slow(_reps(6, 1000, 2.0, 1), 1.0))
    cand = _run("b", _with_slow(_reps(6, 1000, 2.0, 2), 1.5))
    every = compare_loaded(base, [cand], GATE)
    assert every.exit_code() == 1
    assert {f.endpoint for f in every.violations} == {"GET /slow"}
    merged = compare_loaded(base, [cand], GATE, gate_endpoints=(ALL,))
    assert merged.exit_code() == 0 and not merged.violations
    assert merged.gate_text.endswith(" on all endpoints")
    # the endpoint left out is still compared and shown
    slow = next(r for r in merged.rows if r.endpoint == "GET /slow")
    assert slow.changes["p50"].verdict == REGRESSED
    assert compare_loaded(base, [cand], GATE, gate_endpoints=("GET /slow",)).exit_code() == 1
    with pytest.raises(ConfigError, match="GET /json"):
        compare_loaded(base, [cand], GATE, gate_endpoints=("GET /nope",))
