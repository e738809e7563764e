"""Summary arithmetic on synthetic recorder output with known values."""

from __future__ import annotations

import math
import random

import pytest

from loadtests import histograms as H
from runfolder import figures

START = 1_764_213_000.25  # a quarter second into a unix second


def window(t: int, values_ms: dict[str, list[float]], failures=None, users=10, corrected=None):
    endpoints = {}
    for name, values in values_ms.items():
        h = H.new_histogram()
        for v in values:
            H.record(h, v)
        entry = {
            "count": len(values),
            "hist": H.encode(h),
            "corrected_hist": None,
            "failures": (failures or {}).get(name, {}),
            "profiled": 0,
        }
        if corrected and name in corrected:
            c = H.new_histogram()
            for v in corrected[name]:
                H.record(c, v)
            entry["corrected_hist"] = H.encode(c)
        endpoints[name] = entry
    return {"t": t, "users": users, "endpoints": endpoints}


def recorder(windows, open_model=None):
    return {
        "format_version": 1,
        "unit": "us",
        "start_unix": START,
        "window_s": 1,
        "warmup_s": 2.0,
        "shape": "constant",
        "processes": 1,
        "open_model": open_model,
        "windows": windows,
        "locust_totals": {},
    }


def test_steady_window_excludes_partial_and_warmup_seconds() -> None:
    w = figures.SteadyWindow.of(START, warmup=2, duration=5)
    # start at .25: second 0 covers [-.25, .75), warm-up ends at 2.0 -> first whole is t=3
    assert w.first == 3
    # end at 7.0 -> last whole second is [5.75, 6.75): t=6
    assert w.last == 6
    assert w.seconds == 4


def test_warmup_windows_are_excluded_from_percentiles() -> None:
    slow = [500.0] * 100  # warm-up: very slow
    fast = [1.234] * 100
    rec = recorder([window(t, {"GET /json": slow if t < 3 else fast}) for t in range(8)])
    measured = figures.summarize_cell(rec, [], warmup=2, duration=5)
    lat = measured["endpoints"]["GET /json"]["latency_ms"]
    assert lat["count"] == 400  # t = 3..6
    assert lat["max"] < 2
    assert lat["p50"] == pytest.approx(1.234, abs=0.002)  # sub-millisecond resolution
    assert measured["endpoints"]["GET /json"]["rps"] == 100


def test_merged_percentiles_equal_percentiles_of_all_values() -> None:
    rng = random.Random(7)
    per_window = [[rng.lognormvariate(0, 0.8) for _ in range(500)] for _ in range(10)]
    rec = recorder([window(t, {"GET /db": vals}) for t, vals in enumerate(per_window)])
    measured = figures.summarize_cell(rec, [], warmup=0, duration=20)
    # t=0 is partial, and so is t=9: the run ended before its configured 20 s
    everything = sorted(v for vals in per_window[1:9] for v in vals)
    lat = measured["endpoints"]["GET /db"]["latency_ms"]
    assert lat["count"] == len(everything)
    exact_p99 = everything[math.ceil(0.99 * len(everything)) - 1]
    assert lat["p99"] == pytest.approx(exact_p99, rel=0.002)


def test_failures_counted_not_in_latency_and_all_row() -> None:
    rec = recorder(
        [
            window(
                t,
                {"GET /a": [1.0] * 10, "GET /b": [3.0] * 30},
                failures={"GET /b": {"500": 2, "ConnectionError": 1}},
            )
            for t in range(6)
        ]
    )
    measured = figures.summarize_cell(rec, [], warmup=1, duration=4)
    b = measured["endpoints"]["GET /b"]
    n = measured["steady_seconds"]
    assert b["requests"] == 33 * n
    assert b["failures"] == {"500": 2 * n, "ConnectionError": n}
    assert b["error_pct"] == pytest.approx(100 * 3 / 33, abs=0.01)
    assert b["latency_ms"]["count"] == 30 * n
    everything = measured["endpoints"]["ALL"]
    assert everything["requests"] == 43 * n
    assert everything["latency_ms"]["count"] == 40 * n


def test_thin_percentiles_flagged() -> None:
    rec = recorder([window(t, {"GET /x": [1.0] * 50}) for t in range(4)])
    measured = figures.summarize_cell(rec, [], warmup=0, duration=3)
    assert measured["endpoints"]["GET /x"]["thin"] == ["p99", "p99.9"]
    assert any("thin samples" in w for w in measured["warnings"])


def test_generator_bound_from_cpu() -> None:
    rec = recorder([window(t, {"GET /x": [1.0] * 2000}) for t in range(6)])
    cpu = [
        {
            "t": float(t),
            "generator_cpu_pct": 97.0,
            "generator_cpu_max_pct": 97.0,
            "server_cpu_pct": 50.0,
            "server_rss_mb": 1.0,
        }
        for t in range(6)
    ]
    measured = figures.summarize_cell(rec, cpu, warmup=1, duration=4)
    assert measured["generator_bound"] is True
    assert measured["server_cpu_mean_pct"] == 50.0
    cpu_ok = [{**row, "generator_cpu_max_pct": 40.0} for row in cpu]
    assert figures.summarize_cell(rec, cpu_ok, warmup=1, duration=4)["generator_bound"] is False


def test_open_model_shortfall_and_corrected() -> None:
    rec = recorder(
        [
            window(t, {"GET /x": [1.0] * 80}, corrected={"GET /x": [1.0] * 70 + [900.0] * 10})
            for t in range(6)
        ],
        open_model={"rate": 100.0, "scheduled": 600, "sent": 480, "late": 5, "dropped": 3},
    )
    measured = figures.summarize_cell(rec, [], warmup=1, duration=4)
    assert measured["generator_bound"] is True
    assert measured["open_model"]["achieved_rps"] == 80
    lat = measured["endpoints"]["GET /x"]
    assert lat["corrected_latency_ms"]["p99"] > 800
    assert lat["latency_ms"]["p99"] < 2


def test_timeseries_rows_per_window_and_endpoint() -> None:
    rec = recorder([window(t, {"GET /a": [1.0] * 5, "GET /b": [2.0] * 7}) for t in range(4)])
    rows = list(figures.timeseries_rows(rec, figures.SteadyWindow.of(START, 1, 2)))
    assert len(rows) == 4 * 3
    alls = [r for r in rows if r["endpoint"] == "ALL"]
    assert [r["requests"] for r in alls] == [12] * 4
    assert [r["steady"] for r in alls] == [0, 0, 1, 0]


def test_run_ended_early_counts_only_seconds_that_happened() -> None:
    rec = recorder([window(t, {"GET /x": [1.0] * 100}) for t in range(6)])
    measured = figures.summarize_cell(rec, [], warmup=1, duration=60)
    assert measured["steady_seconds"] == 3  # t = 2, 3, 4; t = 5 is the partial last one
    assert measured["endpoints"]["GET /x"]["rps"] == 100


def _cpu_rows(samples: list[tuple[float, float]]) -> list[dict[str, float]]:
    return [
        {
            "t": t,
            "generator_cpu_pct": 10.0,
            "generator_cpu_max_pct": 10.0,
            "server_cpu_pct": 0.0,
            "server_cpu_s": used,
            "server_rss_mb": 1.0,
        }
        for t, used in samples
    ]


def test_server_cpu_per_request_counts_the_steady_seconds_only() -> None:
    rec = recorder([window(t, {"GET /x": [1.0] * 100}) for t in range(7)])
    # START is a quarter second into its unix second: recorder window 2 begins 1.75 s
    # after start_unix, which is cpu.csv's zero. Steady windows 2..4 ([1.75, 4.75) on the
    # samples' clock) used 3 CPU seconds, the seconds around them none.
    samples = [(0.75, 0.0), (1.75, 0.0), (2.75, 1.0), (3.75, 2.0), (4.75, 3.0), (5.75, 3.0)]
    measured = figures.summarize_cell(rec, _cpu_rows(samples), warmup=1, duration=4)
    assert measured["steady_window"] == {"first": 2, "last": 4}
    assert measured["server_cpu_ms_per_request"] == 10.0  # 3 s / 300 requests
    # between samples the counter is interpolated: a steady half core, sampled off-beat
    steady = [(0.1 + k, 0.5 * (0.1 + k)) for k in range(7)]
    half = figures.summarize_cell(rec, _cpu_rows(steady), warmup=1, duration=4)
    assert half["server_cpu_ms_per_request"] == pytest.approx(5.0)
    # the sampler's own rows (unix times), as a segment engine holds them
    unix = [{**r, "t": r["t"] + START} for r in _cpu_rows(samples)]
    bounds = figures.SteadyWindow(2, 4)
    assert figures.server_cpu_per_request(rec, unix, bounds, 300, unix=True) == 10.0


def test_server_cpu_per_request_needs_samples_over_the_window() -> None:
    rec = recorder([window(t, {"GET /x": [1.0] * 100}) for t in range(7)])
    # samples over the first two of three steady seconds: their rate, over all three
    part = figures.summarize_cell(rec, _cpu_rows([(1.75, 0.0), (3.75, 1.0)]), warmup=1, duration=4)
    assert part["server_cpu_ms_per_request"] == pytest.approx(5.0)
    little = figures.summarize_cell(
        rec, _cpu_rows([(1.75, 0.0), (2.25, 1.0)]), warmup=1, duration=4
    )
    assert little["server_cpu_ms_per_request"] is None  # a sixth of the window
    whole = _cpu_rows([(0.75 + k, float(k)) for k in range(6)])
    old = [{k: v for k, v in r.items() if k != "server_cpu_s"} for r in whole]  # older folders
    for rows in (old, []):
        measured = figures.summarize_cell(rec, rows, warmup=1, duration=4)
        assert measured["server_cpu_ms_per_request"] is None
