"""HdrHistograms of request latencies, in microseconds: the only latency store of the project.

No locust import here: the harness imports this module to read ``recorder.json``.

Every latency is kept in an ``HdrHistogram(1, 3_600_000_000, 3)`` counting
microseconds (1 µs to 1 hour, 3 significant digits). Histograms merge exactly
(``merge_into``), so per-window, per-worker or per-repetition histograms can be
summed without ever averaging percentiles.

Two quirks of hdrhistogram 0.10.8 that the helpers here work around:

- ``HdrHistogram.add`` of an *empty* histogram sets the destination's minimum to 0
  (``get_min_value()`` answers 0 for an empty histogram): ``merge_into`` skips empty
  sources.
- ``get_mean_value`` walks a recorded-values iterator in pure Python (~70 ms for a
  busy histogram): ``mean_us`` computes the same figure from the counts array.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_FIGURES = 3

DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9)


def new_histogram() -> HdrHistogram:
    """An empty latency histogram in microseconds (1 µs .. 1 h, 3 significant digits)."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)


def to_us(ms: float) -> int:
    """A duration in float milliseconds as whole microseconds, clamped to the histogram range."""
    us = int(ms * 1000.0 + 0.5)
    if us < LOWEST_US:
        return LOWEST_US
    if us > HIGHEST_US:
        return HIGHEST_US
    return us


def record(h: HdrHistogram, ms: float, count: int = 1) -> int:
    """Record one duration given in milliseconds (float); returns the microseconds recorded.

    Values are rounded to the nearest microsecond and clamped to [1 µs, 1 h], so
    nothing is ever silently dropped (``record_value`` refuses out-of-range values).
    """
    us = to_us(ms)
    h.record_value(us, count)
    return us


def encode(h: HdrHistogram) -> str:
    """The standard compressed, base64 ``HISTFAAA…`` text of ``h`` (HdrHistogram V2 format)."""
    return h.encode().decode("ascii")


def decode(s: str | bytes) -> HdrHistogram:
    """A histogram from ``encode``'s text (or any V2 HdrHistogram blob)."""
    return HdrHistogram.decode(s.encode("ascii") if isinstance(s, str) else s)


def merge_into(dst: HdrHistogram, src: HdrHistogram) -> HdrHistogram:
    """Add every count of ``src`` to ``dst`` (exact); returns ``dst``."""
    if src.get_total_count() == 0:
        return dst  # add() of an empty histogram would reset dst's minimum to 0
    dst.add(src)
    return dst


def merged(hists: Iterable[HdrHistogram]) -> HdrHistogram:
    """A new histogram holding the counts of all ``hists``."""
    out = new_histogram()
    for h in hists:
        merge_into(out, h)
    return out


def total_count(h: HdrHistogram) -> int:
    return int(h.get_total_count())


def _nonzero_counts(h: HdrHistogram) -> Iterable[tuple[int, int]]:
    counts = h.counts
    top = h.get_counts_array_index(h.max_value) + 1 if h.total_count else 0
    for index in range(min(top, h.counts_len)):
        c = counts[index]
        if c:
            yield index, c


def mean_us(h: HdrHistogram) -> float:
    """The mean in microseconds (same definition as ``get_mean_value``, much faster)."""
    n = h.get_total_count()
    if not n:
        return 0.0
    total = 0
    for index, c in _nonzero_counts(h):
        value = h.get_value_from_index(index)
        total += c * h._hdr_median_equiv_value(value)
    return total / n


def percentiles_ms(
    h: HdrHistogram, qs: Iterable[float] = DEFAULT_PERCENTILES
) -> dict[float, float | None]:
    """Percentiles (0-100) in milliseconds with microsecond resolution; None when empty."""
    qs = list(qs)
    if not h.get_total_count():
        return {q: None for q in qs}
    values = h.get_percentile_to_value_dict(qs)
    return {q: values[q] / 1000 for q in qs}


def percentile_key(q: float) -> str:
    """``50.0`` -> ``"p50"``, ``99.9`` -> ``"p99.9"`` (the keys of summary.json)."""
    return f"p{q:g}"


def summary_ms(h: HdrHistogram, qs: Iterable[float] = DEFAULT_PERCENTILES) -> dict[str, Any] | None:
    """count, min, mean, max and percentiles in ms (µs resolution); None for an empty histogram.

    Keys: ``count``, ``min``, ``mean``, ``max`` and ``p50``/``p90``/``p99``/``p99.9`` (for
    the default ``qs``), the shape of ``latency_ms`` in ``summary.json``.

    One pass over the non-zero buckets only (found with numpy): the library's own
    ``get_value_at_percentile`` walks all ~30,000 buckets in Python for each
    percentile, which made a one-hour run's per-second time series take minutes.
    The figures are the library's: same rank rule, same equivalent values.
    """
    count = int(h.get_total_count())
    if not count:
        return None
    import numpy as np

    counts = np.ctypeslib.as_array(h.counts)[: h.counts_len]
    indexes = np.flatnonzero(counts)
    per_bucket = counts[indexes].astype(np.int64)
    cumulative = np.cumsum(per_bucket)
    values, sizes = _bucket_values(h, indexes)
    mean = float(np.dot(per_bucket.astype(np.float64), values + (sizes >> 1))) / count
    out: dict[str, Any] = {
        "count": count,
        "min": h.get_min_value() / 1000,
        "mean": round(mean / 1000, 3),
        "max": h.get_max_value() / 1000,
    }
    for q in qs:
        rank = max(1, int(min(q, 100.0) * count / 100 + 0.5))  # hdrh's rule
        pos = int(np.searchsorted(cumulative, rank))
        out[percentile_key(q)] = int(values[pos] + sizes[pos] - 1) / 1000  # highest equivalent
    return out


def _bucket_values(h: HdrHistogram, indexes: Any) -> tuple[Any, Any]:
    """Lowest value and width of each bucket index (``get_value_from_index``, vectorized)."""
    import numpy as np

    half = h.sub_bucket_half_count
    bucket = (indexes >> h.sub_bucket_half_count_magnitude) - 1
    sub = (indexes & (half - 1)) + half
    first = bucket < 0
    sub = np.where(first, sub - half, sub)
    bucket = np.where(first, 0, bucket)
    shift = (bucket + h.unit_magnitude).astype(np.int64)
    return sub.astype(np.int64) << shift, np.int64(1) << shift


def record_many_us(h: HdrHistogram, values_us: Any) -> None:
    """Record many whole-microsecond values at once (numpy), exactly as ``record_value`` would.

    The recorder buffers per-request parts on its hot path and records them here once
    a second: one ``record_value`` costs ~3 µs in pure Python, this ~0.1 µs a value.
    Values are clamped to the histogram's range (0 stays 0: bucket 0).
    """
    import numpy as np

    v = np.asarray(values_us, dtype=np.int64)
    if v.size == 0:
        return
    v = np.clip(v, 0, h.highest_trackable_value)
    # bit_length(v | mask) through frexp: exact for values below 2**53
    bits = np.frexp((v | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket = bits - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
    sub = v >> (bucket + h.unit_magnitude)
    index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub - h.sub_bucket_half_count
    counts = np.ctypeslib.as_array(h.counts)[: h.counts_len]
    np.add.at(counts, index, 1)
    h.total_count += int(v.size)
    h.min_value = min(h.min_value, int(v.min()))
    h.max_value = max(h.max_value, int(v.max()))
