"""The merge arithmetic of loadtests.histograms: exact, whatever the grouping."""

from __future__ import annotations

import random

import pytest

from loadtests import histograms as H


def _values(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    # sub-millisecond to multi-second, like a Flask endpoint with a slow tail
    return [rng.lognormvariate(0, 1.2) for _ in range(n)]


def test_merging_windows_of_several_sources_equals_one_histogram_of_all() -> None:
    values = _values(6000, 1)
    rng = random.Random(2)
    everything = H.new_histogram()
    # 3 sources (workers) x 5 windows, each value lands in one of them
    parts = {(s, w): H.new_histogram() for s in range(3) for w in range(5)}
    for v in values:
        H.record(everything, v)
        H.record(parts[rng.randrange(3), rng.randrange(5)], v)
    # the master merges what it received, as encoded text, window by window
    by_window = [H.new_histogram() for _ in range(5)]
    for (_, w), h in parts.items():
        H.merge_into(by_window[w], H.decode(H.encode(h)))
    total = H.merged(by_window)
    assert total.equals(everything)
    assert H.total_count(total) == len(values)
    assert sum(H.total_count(h) for h in by_window) == len(values)
    for q in (50, 90, 99, 99.9, 100):
        assert total.get_value_at_percentile(q) == everything.get_value_at_percentile(q)
    assert total.get_min_value() == everything.get_min_value()
    assert total.get_max_value() == everything.get_max_value()


def test_encode_decode_round_trip() -> None:
    h = H.new_histogram()
    for v in _values(1000, 3):
        H.record(h, v)
    text = H.encode(h)
    assert isinstance(text, str)
    assert text.startswith("HISTF")
    back = H.decode(text)
    assert back.equals(h)
    assert H.total_count(back) == 1000
    assert (back.get_min_value(), back.get_max_value()) == (h.get_min_value(), h.get_max_value())
    assert H.decode(H.encode(H.new_histogram())).get_total_count() == 0


def test_merging_an_empty_histogram_keeps_the_minimum() -> None:
    h = H.new_histogram()
    H.record(h, 2.5)
    H.merge_into(h, H.new_histogram())
    H.merge_into(h, H.decode(H.encode(H.new_histogram())))
    assert h.get_min_value() == 2500
    fresh = H.merge_into(H.new_histogram(), h)
    assert fresh.get_min_value() == 2500


def test_percentiles_have_microsecond_resolution() -> None:
    h = H.new_histogram()
    for v in (0.301, 0.412, 0.523, 0.634, 0.745):
        H.record(h, v)
    p = H.percentiles_ms(h, (0, 50, 100))
    # 3 significant digits at µs: below 1 ms every microsecond is its own bucket
    assert p[50] == pytest.approx(0.523, abs=0.001)
    assert p[0] == pytest.approx(0.301, abs=0.001)
    assert p[100] == pytest.approx(0.745, abs=0.001)
    assert p[50] != round(p[50])
    h2 = H.new_histogram()
    H.record(h2, 12.3456)
    assert H.percentiles_ms(h2, (50,))[50] == pytest.approx(12.3456, rel=1e-3)


def test_record_rounds_and_clamps() -> None:
    h = H.new_histogram()
    assert H.record(h, 1.2344) == 1234
    assert H.record(h, 1.2346) == 1235
    assert H.record(h, 0.0) == 1
    assert H.record(h, -3.0) == 1
    assert H.record(h, 10 * 3_600_000.0) == H.HIGHEST_US
    assert H.total_count(h) == 5


def test_summary_and_fast_mean() -> None:
    h = H.new_histogram()
    assert H.summary_ms(h) is None
    assert H.percentiles_ms(h, (50,)) == {50: None}
    for v in _values(3000, 4):
        H.record(h, v)
    s = H.summary_ms(h)
    assert s is not None
    assert set(s) == {"count", "min", "mean", "max", "p50", "p90", "p99", "p99.9"}
    assert s["count"] == 3000
    assert H.mean_us(h) == pytest.approx(h.get_mean_value())
    assert s["min"] <= s["p50"] <= s["p90"] <= s["p99"] <= s["p99.9"] <= s["max"]
