"""A study's arithmetic: the paired ratio's interval and the answer in words.

Pure functions, tested on synthetic pairs.
"""

from __future__ import annotations

import math

SAME_WITHIN = 0.05  # "no difference within ±5%"
# the sd in the interval is its upper 70% confidence bound (chi-square, n-1 df): the number
# of pairs is chosen by the interval's width, and stopping when the sample sd happens to
# be small made a plain t interval hold the truth in 88-92% of simulated A/A studies
# instead of 95%; with this bound 95-96% (tests/harness/test_suite_fake.py)
SD_BOUND = 0.3  # lower chi-square quantile: sd x sqrt((n-1) / chi2.ppf(0.3, n-1))


def log_ratio(base: float, variant: float) -> float | None:
    """One pair's log ratio variant / base; None when a side served nothing."""
    if base <= 0 or variant <= 0:
        return None
    return math.log(variant / base)


def t_quantile(df: int) -> float:
    """Student's t, two-sided 95%, with ``df`` degrees of freedom."""
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


def half_width(logs: list[float]) -> float:
    """The 95% interval's half-width in log space (a relative width); inf below two pairs.
    Student's t with the sample sd raised to its upper 70% bound (see ``SD_BOUND``)."""
    from scipy import stats

    n = len(logs)
    if n < 2:
        return math.inf
    mean = sum(logs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (n - 1))
    bound = math.sqrt((n - 1) / float(stats.chi2.ppf(SD_BOUND, n - 1)))
    return t_quantile(n - 1) * sd * bound / math.sqrt(n)


def paired_interval(logs: list[float]) -> tuple[float, float, float]:
    """The geometric mean ratio and its 95% interval from the pairs' log ratios.

    Each pair measures both sides back to back in a random order, so drift on the
    machine (other tenants, thermal state) lands on both and cancels in the pair's log
    ratio; the ratio varies multiplicatively, so the interval is Student's t on the log
    ratios: exp(mean ± t(n-1) · sd' / √n), sd' the sample sd raised to its upper 70%
    bound because the number of pairs is chosen by this width (never by where the
    interval lies); simulated A/A studies keep their 95% coverage (the tests check it).
    """
    if not logs:
        raise ValueError("no pair where both sides served requests")
    mean = sum(logs) / len(logs)
    half = half_width(logs)
    if math.isinf(half):
        return math.exp(mean), math.exp(mean), math.exp(mean)
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def kind(lo: float, hi: float) -> str:
    """Where the ratio's interval lies: "same" (inside ±SAME_WITHIN), "more" (above 1),
    "less" (below 1) or "unclear" (it spans 1.0)."""
    if lo >= 1 - SAME_WITHIN and hi <= 1 + SAME_WITHIN:
        return "same"
    if lo > 1.0:
        return "more"
    if hi < 1.0:
        return "less"
    return "unclear"


def short_verdict(
    ratio: float | None, lo: float | None, hi: float | None, control: bool = False
) -> str:
    """The table's answer column in a few words."""
    if ratio is None or lo is None or hi is None:
        return "no ratio: a side served nothing"
    if control:
        return f"noise floor ±{max(1 - lo, hi - 1):.0%}" + ("" if lo <= 1 <= hi else " (!)")
    return {
        "same": f"no difference within ±{SAME_WITHIN:.0%}",
        "more": f"{ratio:.2f}x the throughput",
        "less": f"costs: {ratio:.2f}x the throughput",
        "unclear": "unclear: the interval spans 1.0",
    }[kind(lo, hi)]


def verdict(
    technique: str,
    workload: str,
    control: bool,
    ratio: float | None,
    lo: float | None,
    hi: float | None,
    at_common: str = "",
) -> str:
    """The study's sentence: the answer, its interval, and p99 at the common rate."""
    if ratio is None or lo is None or hi is None:
        return "no ratio: a side served no request in any pair"
    span = f"({lo:.2f}-{hi:.2f})"
    if control:
        contains = "contains" if lo <= 1.0 <= hi else "does NOT contain"
        return (
            f"noise floor: {ratio:.2f}x {span}, the interval {contains} 1.0; "
            "a study's difference inside this band is noise"
        )
    at = f", {at_common}" if at_common else ""
    return {
        "same": f"no difference within ±{SAME_WITHIN:.0%} {span}{at}",
        "more": f"{technique}: {ratio:.2f}x the throughput on {workload} {span}{at}",
        "less": f"{technique} costs: {ratio:.2f}x the throughput on {workload} {span}{at}",
        "unclear": f"unclear: {ratio:.2f}x, the interval {span} spans 1.0{at}",
    }[kind(lo, hi)]
