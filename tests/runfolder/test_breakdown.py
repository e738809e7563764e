"""The summary's per-endpoint breakdown from recorder.json's Server-Timing parts."""

from __future__ import annotations

from typing import Any

from loadtests import histograms as H
from loadtests import servertiming as ST
from runfolder.breakdown import (
    absent_text,
    attach_breakdowns,
    breakdown_series,
    step_series,
    tail_sentence,
)
from runfolder.window import SteadyWindow


def _window_entry(rows: list[tuple[str, float, int]]) -> dict[str, Any]:
    """(header, client latency ms, body bytes) per request -> one recorder.json entry."""
    buf = ST.TimingBuffer()
    hist = H.new_histogram()
    for header, latency, length in rows:
        H.record(hist, latency)
        values = ST.row(header, latency, None, clock=False)
        assert values is not None
        buf.add(values, length)
    return {
        "count": len(rows),
        "hist": H.encode(hist),
        "failures": {},
        "profiled": 0,
        "timing": buf.to_wire(),
    }


def _recorder(endpoints: dict[str, list[tuple[str, float, int]]], seconds: int = 3) -> dict:
    windows = [
        {
            "t": t,
            "users": 4 * (t + 1),
            "endpoints": {name: _window_entry(rows) for name, rows in endpoints.items()},
        }
        for t in range(seconds)
    ]
    return {"windows": windows}


def _figures(recorder: dict) -> dict[str, dict[str, Any]]:
    endpoints: dict[str, dict[str, Any]] = {}
    for w in recorder["windows"]:
        for name, entry in w["endpoints"].items():
            acc = endpoints.setdefault(name, {"hist": H.new_histogram()})
            H.merge_into(acc["hist"], H.decode(entry["hist"]))
    out = {n: {"latency_ms": H.summary_ms(a["hist"])} for n, a in endpoints.items()}
    attach_breakdowns(out, recorder, SteadyWindow(0, 2))
    return out


def test_queueing_dominates_a_fast_endpoint_under_saturation() -> None:
    rows = [('app;dur=0.500, start;desc="1.0"', 0.5 + q, 10) for q in (5.0, 20.0, 40.0) * 40]
    fig = _figures(_recorder({"GET /json": rows}))["GET /json"]["breakdown"]
    assert fig["dominant"] == "queue"
    assert set(fig["parts"]) == {"queue", "app", "other"}  # nothing else was sent
    assert fig["queries"] is None and fig["n_plus_one"] is None
    assert "queueing dominates the tail" in tail_sentence("GET /json", fig)


def test_queries_growing_with_page_size_are_flagged() -> None:
    rows = [
        (f'app;dur={1 + n * 0.3:.3f}, db;dur={n * 0.25:.3f};desc="n={n}"', 2 + n * 0.3, 200 * n)
        for n in (2, 4, 6, 8) * 30
    ]
    fig = _figures(_recorder({"GET /items": rows}))["GET /items"]["breakdown"]
    assert fig["queries"]["min"] == 2 and fig["queries"]["max"] == 8
    assert fig["query_growth"] > 0.99
    assert "grow with the answer's size" in fig["n_plus_one"]


def test_fixed_query_count_flagged_only_above_the_threshold() -> None:
    one = [('app;dur=1.000, db;dur=0.800;desc="n=1"', 1.5, 500 + i) for i in range(100)]
    many = [('app;dur=5.000, db;dur=4.000;desc="n=20"', 6.0, 800 + i) for i in range(100)]
    figs = _figures(_recorder({"GET /db": one, "GET /queries": many}))
    assert figs["GET /db"]["breakdown"]["n_plus_one"] is None
    assert figs["GET /db"]["breakdown"]["dominant"] == "db"
    flagged = figs["GET /queries"]["breakdown"]
    assert flagged["queries"]["p50"] == 20 and "20 queries per request" in flagged["n_plus_one"]


def test_series_has_one_row_per_load_level_and_endpoint() -> None:
    rows = [("app;dur=1.000, up;dur=0.700", 1.2, 10)] * 20
    recorder = _recorder({"GET /upstream": rows, "GET /x": rows}, seconds=4)
    recorder["windows"].append({**recorder["windows"][-1], "t": 4})  # a second at 16 users
    series = breakdown_series(recorder, ["GET /upstream"])
    assert [(r["users"], r["timed"]) for r in series] == [(4, 20), (8, 20), (12, 20), (16, 40)]
    assert all(abs(r["up_p50"] - 0.7) < 0.01 for r in series)
    assert "db_p50" not in series[0]
    assert "cpu_p50" not in series[0] and "cpu_mean" not in series[0]  # not sent


def test_step_series_has_one_row_per_step_at_its_rate() -> None:
    steps = []
    for rate, queue in ((50.0, 1.0), (100.0, 5.0), (200.0, 40.0)):
        cpu = 0.3 + rate / 1000  # CPU per request growing with the rate (contention)
        rows = [(f'app;dur=1.000, db;dur=0.600;desc="n=2", cpu;dur={cpu}', 1.0 + queue, 10)] * 30
        recorder = _recorder({"GET /db": rows}, seconds=4)
        recorder.update(start_unix=1000.0, end_unix=1004.0, warmup_s=1.0, open_model={"rate": rate})
        steps.append(recorder)
    series = step_series(steps)
    assert [r["rate"] for r in series] == [50.0, 100.0, 200.0]
    assert [r["timed"] for r in series] == [60, 60, 60]  # windows 1 and 2: warm-up left out
    assert series[0]["queue_p99"] < series[1]["queue_p99"] < series[2]["queue_p99"]
    assert abs(series[2]["db_p50"] - 0.6) < 0.01
    assert [r["cpu_mean"] for r in series] == [0.35, 0.4, 0.5]  # exact, from the sums
    assert abs(series[2]["cpu_p50"] - 0.5) < 0.01


def test_cpu_per_request_beside_the_breakdown_with_the_absent_reason() -> None:
    timed = [(f"app;dur=5.000, cpu;dur={cpu:.3f}", 6.0, 10) for cpu in (1.0, 2.0, 3.0) * 10]
    gevent = [('app;dur=5.000, cpu;desc="absent: gevent"', 6.0, 10)] * 20
    mixed = [*timed[:3], *gevent[:1]]
    recorder = _recorder({"GET /cpu": timed, "GET /g": gevent, "GET /m": mixed})
    out = _figures(recorder)
    out["ALL"] = {"latency_ms": None}
    attach_breakdowns(out, recorder, SteadyWindow(0, 2))
    cpu = out["GET /cpu"]
    assert cpu["cpu_ms"]["mean"] == 2.0 and cpu["cpu_ms"]["count"] == 90  # 3 windows
    assert 1.9 <= cpu["cpu_ms"]["p50"] <= 2.1 and cpu["cpu_absent"] is None
    assert "cpu" not in cpu["breakdown"]["parts"]  # not a part of the wall time
    assert out["GET /g"]["cpu_ms"] is None
    assert out["GET /g"]["cpu_absent"] == {"gevent": 60}
    assert absent_text(out["GET /g"]["cpu_absent"]) == "absent: gevent"
    assert out["GET /m"]["cpu_ms"]["count"] == 9 and out["GET /m"]["cpu_absent"] == {"gevent": 3}
    everything = out["ALL"]
    assert everything["cpu_ms"]["count"] == 99
    assert everything["cpu_ms"]["mean"] == round((90 * 2.0 + 3 * 6.0) / 99, 4)
    assert everything["cpu_absent"] == {"gevent": 63}
