"""The ``cpu`` gate on synthetic summary rows: its figures, its verdicts, and CPU the server
could not measure (gevent) left out of the gate with a warning instead of undecided."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from reports.compare import compare_loaded
from reports.comparison import REGRESSED, SAME, UNDECIDED, figure
from reports.endpoints import cpu_text
from reports.gate import DEFAULT_FAIL_ON, parse_fail_on
from runfolder.errors import ConfigError
from runfolder.figures import ALL
from runfolder.reader import Run

GATE = parse_fail_on("cpu:+5%")


def _row(rep: int, cpu: float | None, server: float | None, absent: str | None = None) -> dict:
    entry: dict[str, Any] = {
        "requests": 1000,
        "failures": {},
        "rps": 100.0,
        "latency_ms": {"p50": 5.0, "p90": 6.0, "p99": 9.0, "p99.9": 12.0},
        "thin": [],
        "cpu_ms": None if cpu is None else {"count": 1000, "p50": cpu, "p99": cpu, "mean": cpu},
        "cpu_absent": {absent: 1000} if absent else None,
    }
    return {
        "cell_id": "sync-gunicorn-gthread-cpu",
        "repetition": rep,
        "target": "sync",
        "server": "gunicorn-gthread",
        "scenario": "cpu",
        "steady_seconds": 10,
        "generator_bound": False,
        "open_model": None,
        "warnings": [],
        "server_cpu_ms_per_request": server,
        "endpoints": {"GET /cpu": entry, ALL: {**entry, "cpu_ms": None}},
    }


def _run(name: str, rows: list[dict]) -> Run:
    return Run(path=Path("/nonexistent") / name, meta={"status": "complete"}, rows=rows)


def _reps(n: int, cpu: float, seed: int, absent: str | None = None) -> list[dict]:
    rng = random.Random(seed)
    return [
        _row(
            k,
            None if absent else cpu * rng.lognormvariate(0, 0.005),
            1.2 * cpu * rng.lognormvariate(0, 0.005),
            absent,
        )
        for k in range(n)
    ]


def test_the_cpu_figure_of_an_endpoint_and_of_all_endpoints() -> None:
    row = _row(0, 2.0, 2.5)
    assert figure(row, "GET /cpu", "cpu") == 2.0  # the request thread's mean
    assert figure(row, ALL, "cpu") == 2.5  # the server processes', per request served
    assert cpu_text([row], [row["endpoints"]["GET /cpu"]], "GET /cpu") == "2.000 (p50 2.000)"
    assert cpu_text([row], [row["endpoints"][ALL]], ALL) == "2.500 (server)"
    gevent = _row(0, None, 2.5, "gevent")
    assert figure(gevent, "GET /cpu", "cpu") is None
    assert cpu_text([gevent], [gevent["endpoints"]["GET /cpu"]], "GET /cpu") == "absent: gevent"


def test_thirty_percent_more_cpu_regresses_and_the_same_passes() -> None:
    base = _run("a", _reps(6, 2.0, 1))
    worse = compare_loaded(base, [_run("b", _reps(6, 2.6, 2))], GATE)
    assert {r.endpoint: r.changes["cpu"].verdict for r in worse.rows} == {
        ALL: REGRESSED,
        "GET /cpu": REGRESSED,
    }
    assert worse.exit_code() == 1 and all(f.metric == "cpu" for f in worse.violations)
    same = compare_loaded(base, [_run("b", _reps(6, 2.0, 3))], GATE)
    assert same.rows[1].changes["cpu"].verdict == SAME and same.exit_code() == 0


def test_cpu_the_server_cannot_measure_is_not_gated_but_said() -> None:
    base = _run("a", _reps(6, 2.0, 1, absent="gevent"))
    cand = _run("b", _reps(6, 2.0, 2, absent="gevent"))
    cmp = compare_loaded(base, [cand], GATE)
    endpoint = next(r for r in cmp.rows if r.endpoint == "GET /cpu")
    assert endpoint.changes["cpu"].verdict == UNDECIDED
    assert "absent: gevent" in endpoint.changes["cpu"].why()
    assert cmp.exit_code() == 0  # all endpoints' server figure decided: same
    assert any("cpu:+5% not judged" in w and "absent: gevent" in w for w in cmp.warnings)
    # one side measured, the other not: undecided, never a pass
    half = compare_loaded(_run("a", _reps(6, 2.0, 1)), [cand], GATE)
    assert half.exit_code() == 3
    assert any(f.metric == "cpu" and f.endpoint == "GET /cpu" for f in half.undecided)


def test_the_gate_reads_cpu_and_ab_gates_it_by_default() -> None:
    assert [str(t) for t in parse_fail_on("cpu:+5%,rps:-5%")] == ["cpu:+5%", "rps:-5%"]
    assert "cpu:+5%" in DEFAULT_FAIL_ON.split(",")
    with pytest.raises(ConfigError, match="cpu takes a signed relative change"):
        parse_fail_on("cpu:>5%")
