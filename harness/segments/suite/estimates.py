"""A study's arithmetic: capacities from steps, the ratio's interval, the short answer.

Pure functions over ``harness.segments.capacity.search.Step`` results, tested on synthetic steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from harness.segments.capacity.search import Slo, Step

SAME_WITHIN = 0.05  # "no difference within ±5%"
REP_SPREAD = 0.1  # a repetition's second step: 10% above or below the first


def interpolate(steps: list[Step], slo: Slo) -> float | None:
    """Where p99 crosses the SLO between the highest pass and the lowest failure above it."""
    passed = [s for s in steps if s.passed]
    low = max(passed, key=lambda s: s.rate) if passed else None
    above = [s for s in steps if not s.passed and (low is None or s.rate > low.rate)]
    high = min(above, key=lambda s: s.rate) if above else None
    if low is None:
        return None
    if high is None or not low.p99 or not high.p99 or high.p99 <= low.p99:
        return low.rate if high is None else (low.rate + high.rate) / 2
    frac = (math.log(slo.p99_ms) - math.log(low.p99)) / (math.log(high.p99) - math.log(low.p99))
    return low.rate + (high.rate - low.rate) * min(1.0, max(0.0, frac))


def ratio_interval(base: list[float], variant: list[float]) -> tuple[float, float, float]:
    """variant / base and its 95% interval over interleaved pairs.

    Each repetition pairs the sides measured back to back; their ratio varies
    multiplicatively, so the interval is Student's t on the pairs' log ratios: the
    geometric mean ratio, exp(mean ± t(n-1) · sd / √n). With the three to five
    repetitions the suite runs, a percentile bootstrap cannot be used: three pairs
    have ten distinct resamples, and its "95%" interval is little more than the
    range of the observed ratios (measured here: an A/A control at 0.83x got
    0.75-0.92 from the bootstrap, 0.64-1.08 from t, and only the latter holds 1.0).
    """
    from scipy import stats

    logs = [math.log(v / b) for b, v in zip(base, variant, strict=False) if b > 0 and v > 0]
    if not logs:
        raise ValueError("no pair of positive capacities")
    mean = sum(logs) / len(logs)
    ratio = math.exp(mean)
    if len(logs) < 2:
        return ratio, ratio, ratio
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
    half = float(stats.t.ppf(0.975, len(logs) - 1)) * sd / math.sqrt(len(logs))
    return ratio, math.exp(mean - half), math.exp(mean + half)


def short_verdict(
    ratio: float | None, lo: float | None, hi: float | None, control: bool = False
) -> str:
    """The table's answer column in a few words."""
    if ratio is None or lo is None or hi is None:
        return "no capacity to compare"
    if control:
        return f"noise floor ±{max(1 - lo, hi - 1):.0%}" + ("" if lo <= 1 <= hi else " (!)")
    if lo >= 1 - SAME_WITHIN and hi <= 1 + SAME_WITHIN:
        return f"no difference within ±{SAME_WITHIN:.0%}"
    if lo > 1.0:
        return f"{ratio:.2f}x the capacity"
    if hi < 1.0:
        return f"costs: {ratio:.2f}x the capacity"
    return "unclear: the interval spans 1.0"


def repetition_estimate(run_step: Callable[[float], Step], centre: float, slo: Slo) -> float:
    """One repetition's capacity from two steps of its own around the search's ``centre``:
    one at the centre, one 10% above it (it passed) or below (it failed); where p99 crosses
    the SLO on the line through the two (log p99 against rate): between them when they
    straddle it, extrapolated (at most 50% beyond) when both landed on one side, so that
    a repetition measures a level rather than repeating the step's rate."""
    first = run_step(round(centre, 1))
    second = run_step(round(centre * (1 + REP_SPREAD if first.passed else 1 - REP_SPREAD), 1))
    low, high = sorted((first, second), key=lambda s: s.rate)
    est = interpolate([first, second], slo) if low.passed and not high.passed else None
    if est is None:
        est = extrapolate(low, high, slo)
    return est


def extrapolate(low: Step, high: Step, slo: Slo) -> float:
    """Where the line through two steps (log p99 against rate) reaches the SLO's p99,
    within [0.5 x low, 1.5 x high]; the nearer step's rate when p99 did not rise."""
    nearer = high if low.passed and high.passed else low
    if not low.p99 or not high.p99 or high.p99 <= low.p99 or high.rate <= low.rate:
        return nearer.rate if nearer.passed else nearer.rate * (1 - REP_SPREAD)
    slope = (math.log(high.p99) - math.log(low.p99)) / (high.rate - low.rate)
    rate = high.rate + (math.log(slo.p99_ms) - math.log(high.p99)) / slope
    return min(1.5 * high.rate, max(0.5 * low.rate, rate))
