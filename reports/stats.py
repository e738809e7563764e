"""Is a change between two sets of repetitions real? Three verdicts, as Pinpoint gives.

* **different** (``improved`` or ``regressed``): the smaller p-value of Mann-Whitney U
  and Kolmogorov-Smirnov over the per-repetition figures is at most ``ALPHA`` (0.01;
  MWU misses changes in spread, K-S is weak on discrete data, so either may speak), and
  the change of the median is at least the practical threshold.
* **same**: the bootstrap confidence interval (``CONFIDENCE`` 95%, percentile method,
  seeded) of the ratio of medians lies inside ± the threshold.
* **undecided**: neither, or fewer than ``MIN_REPS`` repetitions on a side, or a reason
  that makes the figures untrustworthy (generator-bound, dropped requests, thin tail).

One figure per repetition is one sample: per-second windows inside a repetition are
autocorrelated and would make any test overconfident. The smallest p-value either test
can reach is 0.1 at 3 vs 3 and 0.008 at 5 vs 5 repetitions, so *different* needs at
least 5 per side, while *same* can be reached earlier when the runs are quiet. With one
or two repetitions the interval means nothing: undecided, never same.

Errors are judged on requests, not repetitions: the error share (failed / all requests,
pooled) of the candidate minus the baseline's, in percentage points, a one-sided Fisher
exact test for a rise, and a normal-approximation interval of the difference.

This is the *unpaired* test: ``compare`` falls back to it for two separate runs. The
two sides of one interleaved ``ab`` folder are judged pair by pair instead
(``reports.sequential``). Metric names, directions and default thresholds live in one
place, ``reports.compare.METRICS``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats as _stats

from reports.comparison import (
    FISHER,
    IMPROVED,
    METRIC,
    MIN_REPS,
    REGRESSED,
    SAME,
    UNDECIDED,
    UNPAIRED,
    Change,
)

ALPHA = 0.01
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
SEED = 20240611
ERROR_RISE_PP = 0.1  # a rise of the error share beyond this many percentage points regresses


def _clean(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """min(p) of two-sided Mann-Whitney U and Kolmogorov-Smirnov (Pinpoint's rule)."""
    if len(set(a) | set(b)) == 1:
        return 1.0
    p_mwu = float(_stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ties: K-S falls back to asymptotic
        p_ks = float(_stats.ks_2samp(a, b).pvalue)
    return min(p_mwu, p_ks)


def ratio_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Bootstrap interval of median(b) / median(a), resampling repetitions."""

    def ratio(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(y, axis=axis) / np.median(x, axis=axis)  # type: ignore[no-any-return]

    point = float(np.median(b) / np.median(a))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate samples (no spread) warn; handled below
        res = _stats.bootstrap(
            (np.asarray(a), np.asarray(b)),
            ratio,
            vectorized=True,
            paired=False,
            confidence_level=CONFIDENCE,
            n_resamples=BOOTSTRAP_RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(SEED),
        )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isnan(low) or math.isnan(high):
        return point, point
    return min(low, point), max(high, point)


def metric_defaults(metric: str) -> tuple[float, bool]:
    """(default threshold in percent, higher is better) of a metric of ``METRICS``."""
    spec = METRIC[metric]
    return spec.threshold, spec.higher_is_better


def compare_values(
    metric: str,
    a: Sequence[float | None],
    b: Sequence[float | None],
    threshold_pct: float | None = None,
    reasons: Sequence[str] = (),
    higher_is_better: bool | None = None,
) -> Change:
    """Compare per-repetition figures ``a`` (baseline) and ``b`` (candidate), unpaired."""
    xa, xb = _clean(a), _clean(b)
    default_threshold, default_higher = metric_defaults(metric)
    threshold = default_threshold if threshold_pct is None else threshold_pct
    higher = default_higher if higher_is_better is None else higher_is_better
    why = list(reasons)
    ma = float(np.median(xa)) if xa else None
    mb = float(np.median(xb)) if xb else None

    def out(
        verdict: str,
        change: float | None = None,
        ci: tuple[float | None, float | None] = (None, None),
        p: float | None = None,
    ) -> Change:
        return Change(
            metric,
            ma,
            mb,
            change,
            ci[0],
            ci[1],
            p,
            len(xa),
            len(xb),
            threshold,
            verdict,
            tuple(why),
            tuple(xa),
            tuple(xb),
            UNPAIRED,
            higher,
        )

    if ma is None or mb is None:
        why.append(
            "no value on "
            + (
                "either side"
                if ma is None and mb is None
                else "the baseline"
                if ma is None
                else "the candidate"
            )
        )
        return out(UNDECIDED)
    if ma <= 0:
        why.append("the baseline's value is 0")
        return out(UNDECIDED)
    change = 100 * (mb / ma - 1)
    if min(len(xa), len(xb)) < MIN_REPS:
        return out(UNDECIDED, change)
    low, high = ratio_interval(xa, xb)
    ci = (100 * (low - 1), 100 * (high - 1))
    p = p_value(xa, xb)
    if why:
        return out(UNDECIDED, change, ci, p)
    if p <= ALPHA and abs(change) >= threshold:
        better = change > 0 if higher else change < 0
        return out(IMPROVED if better else REGRESSED, change, ci, p)
    if -threshold < ci[0] and ci[1] < threshold:
        return out(SAME, change, ci, p)
    return out(UNDECIDED, change, ci, p)


def compare_errors(
    failed_a: int,
    requests_a: int,
    failed_b: int,
    requests_b: int,
    threshold_pp: float = ERROR_RISE_PP,
    reasons: Sequence[str] = (),
) -> Change:
    """The error share (percent of requests), baseline vs candidate, pooled over repetitions."""
    why = list(reasons)
    if not requests_a or not requests_b:
        why.append("no requests on " + ("the baseline" if not requests_a else "the candidate"))
        return Change(
            "errors",
            None,
            None,
            None,
            None,
            None,
            None,
            requests_a,
            requests_b,
            threshold_pp,
            UNDECIDED,
            tuple(why),
            test=FISHER,
        )
    pa, pb = failed_a / requests_a, failed_b / requests_b
    diff = 100 * (pb - pa)
    se = 100 * math.sqrt(pa * (1 - pa) / requests_a + pb * (1 - pb) / requests_b)
    z = float(_stats.norm.ppf(0.5 + CONFIDENCE / 2))
    ci = (diff - z * se, diff + z * se)
    table = [[failed_b, requests_b - failed_b], [failed_a, requests_a - failed_a]]
    rise = diff > 0
    p = float(_stats.fisher_exact(table, alternative="greater" if rise else "less").pvalue)
    verdict = UNDECIDED
    if why:
        verdict = UNDECIDED
    elif p <= ALPHA and abs(diff) > threshold_pp:
        verdict = REGRESSED if rise else IMPROVED
    elif -threshold_pp <= ci[0] and ci[1] <= threshold_pp:
        verdict = SAME
    return Change(
        "errors",
        100 * pa,
        100 * pb,
        diff,
        ci[0],
        ci[1],
        p,
        requests_a,
        requests_b,
        threshold_pp,
        verdict,
        tuple(why),
        (100 * pa,),
        (100 * pb,),
        FISHER,
    )
