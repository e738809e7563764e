"""HdrHistogram access for readers: merge encoded windows fast, percentiles in milliseconds.

Histograms hold microseconds (the recorder's contract); ``loadtests.histograms`` is
the project's one codec, and this module adds what readers of many windows need.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hdrh.codec import HdrHistogramEncoder
from hdrh.histogram import HdrHistogram

from loadtests import histograms as _shared


def new_histogram() -> Any:
    return _shared.new_histogram()


def encode(hist: Any) -> str:
    return _shared.encode(hist)


def decode(text: str) -> Any:
    return _shared.decode(text)


def merge_encoded(acc: Any, texts: Iterable[str | None]) -> Any:
    """Add every encoded histogram in ``texts`` into ``acc`` (exact: counts are summed).

    A one-hour run has 3,600 windows per endpoint: decoding each into a histogram
    object and adding it costs ~0.2 ms of Python per window, so counts are decoded
    straight into arrays and summed with numpy, then written into ``acc`` once.
    """
    import numpy as np  # here, not at import: the CLI's --help stays light

    if not isinstance(acc, HdrHistogram):
        for text in texts:
            if text:
                _shared.merge_into(acc, _shared.decode(text))
        return acc
    counts = np.ctypeslib.as_array(acc.counts)
    total = np.zeros(acc.counts_len, dtype=np.uint64)
    added = 0
    for text in texts:
        if not text:
            continue
        payload = HdrHistogramEncoder.decode(text)
        header = payload.payload
        if (
            header.lowest_trackable_value != acc.lowest_trackable_value
            or header.highest_trackable_value != acc.highest_trackable_value
            or header.significant_figures != acc.significant_figures
        ):
            acc.add(HdrHistogram.decode(text))  # other parameters: the exact slow path
            continue
        result = payload.init_counts(acc.counts_len)
        if result["total"]:
            total += np.ctypeslib.as_array(payload.get_counts())[: acc.counts_len]
            added += int(result["total"])
    if added:
        counts += total.astype(counts.dtype)
        nonzero = np.flatnonzero(counts)
        acc.set_internal_tacking_values(
            int(nonzero[0]), int(nonzero[-1]), acc.get_total_count() + added
        )
    return acc


def percentile_ms(hist: Any, q: float) -> float | None:
    if hist.get_total_count() == 0:
        return None
    return float(hist.get_value_at_percentile(q)) / 1000


def percentiles_ms(hist: Any, qs: Sequence[float]) -> dict[float, float]:
    if hist.get_total_count() == 0:
        return {}
    values = hist.get_percentile_to_value_dict(list(qs))
    return {q: values[q] / 1000 for q in qs}


# The spectrum's x positions: HdrHistogram plots latency against 1 / (1 - q).
SPECTRUM_PERCENTILES: tuple[float, ...] = tuple(
    sorted(
        {0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999}
        | {100 - 100 / 2 ** (k / 2) for k in range(1, 34)}
    )
)


def spectrum(hist: Any) -> list[tuple[float, float]]:
    """(percentile, latency ms) pairs up to the highest percentile the samples support."""
    count = hist.get_total_count()
    if count == 0:
        return []
    # beyond 1 - 1/count a percentile is the max: stop one step after that
    limit = 100 * (1 - 1 / count)
    qs = [q for q in SPECTRUM_PERCENTILES if q <= limit]
    values = percentiles_ms(hist, qs)
    points = [(q, values[q]) for q in qs]
    points.append((min(100 * (1 - 0.5 / count), 99.9999), hist.get_max_value() / 1000))
    return points
