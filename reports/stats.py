"""Is a change between two sets of repetitions real?

A change counts only when it is both statistically significant and larger than a
practical threshold (asv's rule; measurement.md section 5).

Method, chosen for the repetition counts this harness runs (3 to 10 per cell):

* The figure compared is the geometric mean over repetitions, and the test is
  Welch's t-test on log values: throughput and latency vary multiplicatively, so
  a ratio is the natural effect size, and the t-test has power with few samples.
  Significant at ``ALPHA = 0.01``. With 5 vs 5 repetitions at the few-percent
  noise of a pinned run, a consistent 20% change gives p < 1e-4.
* Mann-Whitney U (two-sided, exact) is required as well when it *can* reach its
  level, ``ALPHA_MWU = 0.05``: from 4 repetitions a side (its smallest possible p
  is 0.029 at 4 vs 4, 0.008 at 5 vs 5, but 0.1 at 3 vs 3, where it could never
  agree). It keeps one outlier repetition from carrying the t-test.
* Practical thresholds, in percent of the baseline: ``THRESHOLDS`` (5% for
  throughput and the median, 10% for tail percentiles, which are noisier).
* With fewer than two repetitions on either side there is no variance to test
  against: the change is shown but marked "unconfirmed".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as _stats

ALPHA = 0.01
ALPHA_MWU = 0.05
MWU_MIN_REPS = 4
THRESHOLDS = {"rps": 5.0, "p50": 5.0, "p90": 10.0, "p99": 10.0, "p99.9": 10.0}
HIGHER_IS_BETTER = {"rps": True, "p50": False, "p90": False, "p99": False, "p99.9": False}

IMPROVED = "improved"
REGRESSED = "regressed"
NO_CHANGE = "no significant change"
UNCONFIRMED = "unconfirmed"
MISSING = "n/a"


@dataclass(frozen=True)
class Change:
    """Baseline and candidate figures (geometric means over repetitions) and the verdict."""

    metric: str
    baseline: float | None
    candidate: float | None
    change_pct: float | None
    p_value: float | None
    p_mwu: float | None
    n_baseline: int
    n_candidate: int
    significant: bool
    verdict: str
    baseline_values: tuple[float, ...] = ()
    candidate_values: tuple[float, ...] = ()

    @property
    def worse(self) -> bool:
        """The candidate is worse in this metric (ignoring significance)."""
        if self.change_pct is None:
            return False
        return self.change_pct < 0 if HIGHER_IS_BETTER[self.metric] else self.change_pct > 0


def _center(values: list[float]) -> float:
    if all(v > 0 for v in values):
        return math.exp(sum(math.log(v) for v in values) / len(values))
    return sum(values) / len(values)


def _welch_log(a: list[float], b: list[float]) -> float:
    use_log = all(v > 0 for v in a + b)
    xa = [math.log(v) for v in a] if use_log else a
    xb = [math.log(v) for v in b] if use_log else b
    if max(xa) == min(xa) and max(xb) == min(xb):  # no spread at all
        return 1.0 if xa[0] == xb[0] else 0.0
    return float(_stats.ttest_ind(xa, xb, equal_var=False).pvalue)


def _mwu(a: list[float], b: list[float]) -> float:
    return float(_stats.mannwhitneyu(a, b, alternative="two-sided", method="auto").pvalue)


def compare_values(
    metric: str, a: list[float | None], b: list[float | None], threshold_pct: float | None = None
) -> Change:
    """Compare per-repetition figures ``a`` (baseline) and ``b`` (candidate)."""
    xa = [float(v) for v in a if v is not None and not math.isnan(float(v))]
    xb = [float(v) for v in b if v is not None and not math.isnan(float(v))]
    threshold = THRESHOLDS[metric] if threshold_pct is None else threshold_pct
    if not xa or not xb:
        ca_, cb_ = (_center(xa) if xa else None), (_center(xb) if xb else None)
        return Change(
            metric,
            ca_,
            cb_,
            None,
            None,
            None,
            len(xa),
            len(xb),
            False,
            MISSING,
            tuple(xa),
            tuple(xb),
        )
    ca, cb = _center(xa), _center(xb)
    change = 100 * (cb / ca - 1) if ca else None
    if len(xa) < 2 or len(xb) < 2:
        return Change(
            metric,
            ca,
            cb,
            change,
            None,
            None,
            len(xa),
            len(xb),
            False,
            UNCONFIRMED,
            tuple(xa),
            tuple(xb),
        )
    p = _welch_log(xa, xb)
    p_mwu = _mwu(xa, xb) if min(len(xa), len(xb)) >= MWU_MIN_REPS else None
    significant = p < ALPHA and (p_mwu is None or p_mwu < ALPHA_MWU)
    verdict = NO_CHANGE
    if significant and change is not None and abs(change) >= threshold:
        better = change > 0 if HIGHER_IS_BETTER[metric] else change < 0
        verdict = IMPROVED if better else REGRESSED
    return Change(
        metric,
        ca,
        cb,
        change,
        p,
        p_mwu,
        len(xa),
        len(xb),
        significant,
        verdict,
        tuple(xa),
        tuple(xb),
    )
