"""Paired, sequential verdicts: one log ratio per pair, an interval valid at every look.

An interleaved A/B run (``ab``) measures baseline and candidate in pairs of short
segments, back to back and in random order, so drift and noisy neighbours hit both
sides of a pair alike. The pair's log ratio ``log(candidate / baseline)`` carries the
change with most of that noise removed; the verdict is about the mean log ratio ``μ``
(its ``exp`` is the geometric mean of the ratios).

**The interval.** ``ab`` looks after every pair and stops once every gated metric is
decided, and ``compare`` looks again at whatever number of pairs was stored. A fixed-n
t interval looked at after every pair would cry wolf far more often than its 5% (the
repeated-significance-test problem), so the interval here is an *always-valid
confidence sequence*: with probability at least ``1 - ALPHA`` it holds ``μ`` at every
number of pairs at once, so any stopping rule, any number of looks, keeps the error
rate. It is the Student-t mixture sequence for Gaussian data of unknown variance (Lai
1976; in the form of Wang & Ramdas 2023, "Anytime-valid t-tests and confidence
sequences for Gaussian means with unknown variance", a test martingale in the
scale-invariant filtration): for a candidate mean ``m``, with ``S`` and ``Q`` the sum and
the sum of squares of ``x_i - m`` over ``n`` pairs, the likelihood ratio of the scale-free
data, mixed over a standardized effect ``θ ~ N(0, 1/c)``, is

    M_n(m) = sqrt(c / (n + c)) · (1 - S² / ((n + c) Q)) ^ (-n/2)

a nonnegative martingale with ``M_1 = 1`` when ``m = μ``; by Ville's inequality it ever
reaches ``1/ALPHA`` with probability at most ``ALPHA``. The ``m`` it never rejects form
``mean ± sqrt(k · SS / (n (n - k)))`` with ``SS`` the sum of squared deviations and
``k = (n + c)(1 - (ALPHA · sqrt(c / (n + c)))^(2/n))`` (the whole line while ``k >= n``).

**The family.** A gate rests on many verdicts: every gated metric of every endpoint
(and of all endpoints merged, when a cell has more than one). Each interval keeps its
own error under ``alpha``, but some endpoint's would cry wolf far more often: on an
A/A ``ab`` of a 13-route app from PyPI, one route with about 50 requests a segment had
its first five pairs agree on -24% goodput, and the gate failed. So ``compare`` gives
each paired verdict ``ALPHA / K``, ``K`` the number of gated metrics times gated
endpoints (Bonferroni; ``reports.gate.family_size``): all of them together call a
change that is not there with probability at most ``ALPHA``. Simulated with 14
endpoints whose pairs spread 20%, some endpoint ends *different* in 11.5% of A/A gates
at ``ALPHA`` each, in 0.45% at ``ALPHA / 14``. A one-route gate (four metrics) pays a
few pairs: its A/A ends *same* after a median of 9 pairs instead of 7, a 5% change is
found after 17 instead of 13 (2.5% spread). ``--gate-endpoint all`` gates the merged
figures alone.

Why this and not alpha spending: a group-sequential design needs its maximum number of
looks fixed in advance and is valid only for it, while ``ab``'s budget is wall time,
a stored folder may hold any number of pairs, and every ``compare`` of it is one more
look. The confidence sequence needs no horizon, has a closed form (no simulation or
spending table to ship), and needs no known variance: the pairs' spread is estimated
as it goes. Its price is width: 1.7x a fixed-n t interval from 8 pairs on (2.1x at
5), the cost of being allowed to look after every pair. ``c`` = ``MIXTURE_PRECISION``
(0.5) puts the mixture's weight on standardized effects near 1.4, where a 5% threshold
over a 2-4% per-pair spread lies; simulated, any ``c`` from 0.25 to 2 decides within a
pair of it.

**The verdicts** (interval in percent, ``100 (exp(·) - 1)``, threshold ``t``):

* *same*: the interval lies inside ``(-t, +t)``;
* *different* (improved / regressed by the metric's direction): the interval lies
  beyond half the threshold (``CALL_SHARE``), all of it above ``+t/2`` or below
  ``-t/2``. Half, not 0: two server processes of the same code differ by a few
  percent for good (hash seeds, memory layout, which worker the connections land on;
  an A/A ``ab`` on this machine once measured +3.5% CPU per request between two copies
  of one folder), and an interval that only had to exclude 0 calls any such lasting
  difference *regressed* once enough pairs come in. A change of ``t`` is found once
  the half-width is below ``t/2``;
* *undecided*: neither yet, fewer than ``MIN_PAIRS`` pairs, or a reason in the
  measurement itself.

Simulated (4,000 sequences a case, seed 20261203; the bounds are asserted in
``tests/reports/test_sequential.py``): Gaussian log ratios, a look after every pair up
to the 40th, stopping at the first verdict, ``t`` = 5%. A/A sequences end *different*
in none of 4,000 at a per-pair spread of 2% / 3% / 4% (bound: ``ALPHA``), *same* in
all, after a median of 6 / 8 / 12 pairs. A true 5% change is found 99% / 95% / 74% of
the time after 9 / 16 / 26 pairs (ab measures 2-3% spreads: duet pairs), and so is a
4.76% fall of goodput (5% more work per request); a true 1% / 2% / 3% change at a 3%
spread ends *same* 100% / 99% / 80% of the time, 4% is called in half the sequences.
A lasting 3.5% difference at a 2.6% spread is still called in a third of 60-pair
sequences: ``t/2`` is the tolerance. Heavy-tailed pairs (Student t with 3 degrees of
freedom; 10% outliers at 6x the spread) stay below 1% false *different*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reports.comparison import IMPROVED, MIN_PAIRS, PAIRED, REGRESSED, UNDECIDED, Change
from reports.comparison import SAME as SAME_VERDICT
from reports.stats import metric_defaults

ALPHA = 0.05
"""The confidence sequence misses the true mean ratio at any look with at most this
probability: the bound on false *different* (and false *same*) per metric, over a
whole sequential run however long."""
MIXTURE_PRECISION = 0.5
CALL_SHARE = 0.5
"""A change is called (*different*) only once its interval clears this share of the
threshold: two server processes of the same code differ by a few percent for good
(hash seeds, memory layout, which worker the connections land on), and an interval
that merely excludes 0 would, given enough pairs, call that a regression."""


@dataclass(frozen=True)
class Interval:
    """The mean log ratio over ``n`` pairs and its always-valid interval (log scale)."""

    n: int
    mean: float
    low: float
    high: float

    @property
    def pct(self) -> tuple[float, float, float]:
        """Change, low and high in percent of the baseline."""
        return _pct(self.mean), _pct(self.low), _pct(self.high)


def _pct(log_ratio: float) -> float:
    return 100 * math.expm1(log_ratio) if math.isfinite(log_ratio) else log_ratio


def half_width(
    n: np.ndarray | int,
    sum_sq_dev: np.ndarray | float,
    alpha: float = ALPHA,
    c: float = MIXTURE_PRECISION,
) -> np.ndarray:
    """Half-width of the t-mixture confidence sequence after ``n`` observations.

    Vectorized over ``n`` and ``sum_sq_dev`` (the sum of squared deviations from the
    mean) so that simulations run thousands of sequences at once; ``inf`` while the
    sequence is still the whole line.
    """
    n_arr = np.asarray(n, dtype=float)
    ss = np.asarray(sum_sq_dev, dtype=float)
    k = (n_arr + c) * (1 - (alpha * np.sqrt(c / (n_arr + c))) ** (2 / n_arr))
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.sqrt(k * ss / (n_arr * (n_arr - k)))
    return np.where(k < n_arr, h, np.inf)


def interval(log_ratios: Sequence[float], alpha: float = ALPHA) -> Interval:
    """The always-valid interval of the mean of ``log_ratios``."""
    x = np.asarray(log_ratios, dtype=float)
    n = len(x)
    if not n:
        return Interval(0, math.nan, -math.inf, math.inf)
    mean = float(x.mean())
    h = float(half_width(n, float(((x - mean) ** 2).sum()), alpha))
    return Interval(n, mean, mean - h, mean + h)


def log_ratios(pairs: Sequence[tuple[float | None, float | None]]) -> list[float]:
    """log(candidate / baseline) of every pair with a positive figure on both sides."""
    return [
        math.log(c / b)
        for b, c in pairs
        if b is not None and c is not None and b > 0 and c > 0 and math.isfinite(c / b)
    ]


SAME, DIFFERENT, OPEN = "same", "different", "open"


def decide(iv: Interval, threshold_pct: float, min_pairs: int = MIN_PAIRS) -> str:
    """``same``, ``different`` or ``open`` (undecided) for an interval and a threshold."""
    if iv.n < min_pairs:
        return OPEN
    _, low, high = iv.pct
    if -threshold_pct < low and high < threshold_pct:
        return SAME
    margin = CALL_SHARE * threshold_pct
    if low > margin or high < -margin:
        return DIFFERENT
    return OPEN


def decide_many(
    means: np.ndarray,
    halves: np.ndarray,
    n: np.ndarray,
    threshold_pct: float,
    min_pairs: int = MIN_PAIRS,
) -> tuple[np.ndarray, np.ndarray]:
    """``decide`` over arrays (for simulations): boolean arrays (same, different)."""
    low, high = 100 * np.expm1(means - halves), 100 * np.expm1(means + halves)
    enough = n >= min_pairs
    same = enough & (low > -threshold_pct) & (high < threshold_pct)
    margin = CALL_SHARE * threshold_pct
    different = enough & ~same & ((low > margin) | (high < -margin))
    return same, different


def simulate(
    log_ratios: np.ndarray,
    threshold_pct: float,
    min_pairs: int = MIN_PAIRS,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the stopping rule over sequences (rows of ``log_ratios``, one pair a column).

    Looks after every pair and stops at the first verdict, as ``ab`` does. Returns the
    verdict of each sequence (``same``/``different``/``open`` at the last look) and
    the number of pairs it took.
    """
    seqs, looks = log_ratios.shape
    n = np.arange(1, looks + 1)
    sums = np.cumsum(log_ratios, axis=1)
    means = sums / n
    ss = np.maximum(np.cumsum(log_ratios**2, axis=1) - n * means**2, 0.0)
    same, different = decide_many(means, half_width(n, ss), n, threshold_pct, min_pairs)
    decided = same | different
    any_decided = decided.any(axis=1)
    first = np.where(any_decided, decided.argmax(axis=1), looks - 1)
    rows = np.arange(seqs)
    verdict = np.where(
        any_decided & different[rows, first],
        DIFFERENT,
        np.where(any_decided & same[rows, first], SAME, OPEN),
    )
    return verdict, first + 1


def _geomean(values: Sequence[float | None]) -> float | None:
    logs = [math.log(v) for v in values if v is not None]
    return math.exp(sum(logs) / len(logs)) if logs else None


def compare_pairs(
    metric: str,
    pairs: Sequence[tuple[float | None, float | None]],
    threshold_pct: float | None = None,
    reasons: Sequence[str] = (),
    higher_is_better: bool | None = None,
    alpha: float = ALPHA,
) -> Change:
    """Judge ``(baseline, candidate)`` figures of interleaved pairs: a paired ``Change``
    (its interval misses the true change at any look with probability ``alpha``).

    ``baseline`` and ``candidate`` are each side's geometric mean over the usable pairs,
    so that their ratio is exactly the change shown (the pairs' mean log ratio);
    ``n_baseline`` = ``n_candidate`` = the number of usable pairs.
    """
    default_threshold, default_higher = metric_defaults(metric)
    threshold = default_threshold if threshold_pct is None else threshold_pct
    higher = default_higher if higher_is_better is None else higher_is_better
    why = list(reasons)
    side_a = [float(b) for b, _ in pairs if b is not None and math.isfinite(b)]
    side_b = [float(c) for _, c in pairs if c is not None and math.isfinite(c)]
    usable = [(b, c) for b, c in pairs if log_ratios([(b, c)])]
    ratios = log_ratios(usable)
    iv = interval(ratios, alpha)
    change, low, high = iv.pct if iv.n else (None, None, None)
    if iv.n and not math.isfinite(iv.low):
        low = high = None
    if not iv.n:
        why.append("no pair with a value on both sides")
    verdict = UNDECIDED
    if not why:
        decision = decide(iv, threshold)
        if decision == SAME:
            verdict = SAME_VERDICT
        elif decision == DIFFERENT:
            better = iv.mean > 0 if higher else iv.mean < 0
            verdict = IMPROVED if better else REGRESSED
    return Change(
        metric,
        _geomean([b for b, _ in usable]),
        _geomean([c for _, c in usable]),
        change,
        low,
        high,
        None,
        iv.n,
        iv.n,
        threshold,
        verdict,
        tuple(why),
        tuple(side_a),
        tuple(side_b),
        PAIRED,
        higher,
    )
