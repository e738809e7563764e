"""summary_ms against the hdrhistogram library's own (slow) figures."""

from __future__ import annotations

import pytest

from loadtests import histograms as H


@pytest.mark.parametrize("n", [1, 7, 1000, 20000])
def test_summary_matches_the_library_exactly(n: int) -> None:
    """summary_ms reads only non-zero buckets; its figures must be the library's own."""
    import random

    rng = random.Random(n)
    h = H.new_histogram()
    for _ in range(n):
        H.record(h, rng.lognormvariate(0, 2.5) * 3)
    expected = {
        "count": h.get_total_count(),
        "min": h.get_min_value() / 1000,
        "mean": round(h.get_mean_value() / 1000, 3),
        "max": h.get_max_value() / 1000,
    }
    for q in (50.0, 90.0, 99.0, 99.9):
        expected[H.percentile_key(q)] = h.get_value_at_percentile(q) / 1000
    assert H.summary_ms(h) == expected
