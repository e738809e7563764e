"""The paired stopping rule, simulated: false alarms on A/A sequences, power on a 5% change.

Each simulated sequence is up to ``LOOKS`` pairs of log ratios, looked at after every
pair and stopped at the first verdict, as ``ab`` does. Seeded: the figures are exact
for this seed, and the bounds asserted hold with a wide margin (the rates measured are
in ``reports/sequential.py``'s docstring).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from reports.comparison import IMPROVED, PAIRED, REGRESSED, UNDECIDED
from reports.sequential import (
    ALPHA,
    DIFFERENT,
    MIXTURE_PRECISION,
    SAME,
    compare_pairs,
    decide,
    decide_many,
    half_width,
    interval,
    simulate,
)

SEQUENCES = 2000
LOOKS = 40
AB_PAIRS = 60  # ab's --max-repeat
SEED = 20261203


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + offset)


@pytest.mark.parametrize("sd", [0.02, 0.03, 0.04])
def test_aa_false_alarms_stay_under_alpha(sd: float) -> None:
    """Identical sides: at most 5% of sequences ever end *different*, 40 looks each."""
    x = _rng(int(sd * 100)).normal(0.0, sd, (SEQUENCES, LOOKS))
    verdict, pairs = simulate(x, threshold_pct=5.0)
    false = float(np.mean(verdict == DIFFERENT))
    assert false <= ALPHA, false
    assert np.mean(verdict == SAME) >= 0.9  # and they do end: same, not undecided
    assert np.median(pairs) <= 15


def test_aa_interval_holds_zero_at_every_look() -> None:
    """Not stopping at *same*: the interval still excludes 0 at some look in <= 5%."""
    n = np.arange(1, LOOKS + 1)
    x = _rng(1).normal(0.0, 0.03, (SEQUENCES, LOOKS))
    means = np.cumsum(x, axis=1) / n
    from reports.sequential import half_width

    ss = np.maximum(np.cumsum(x**2, axis=1) - n * means**2, 0.0)
    h = half_width(n, ss)
    ever = ((means - h > 0) | (means + h < 0)).any(axis=1)
    assert float(ever.mean()) <= ALPHA


@pytest.mark.parametrize("tails", ["student-t3", "outliers"])
def test_aa_heavy_tailed_pairs_stay_under_alpha(tails: str) -> None:
    """Noisy neighbours make heavy tails: the rule is exact for Gaussian pairs only."""
    rng = _rng(2)
    if tails == "student-t3":
        x = rng.standard_t(3, (SEQUENCES, LOOKS)) * 0.03 / math.sqrt(3)
    else:
        spike = rng.random((SEQUENCES, LOOKS)) < 0.1
        x = np.where(spike, rng.normal(0, 0.12, spike.shape), rng.normal(0, 0.02, spike.shape))
    verdict, _ = simulate(x, threshold_pct=5.0)
    assert float(np.mean(verdict == DIFFERENT)) <= ALPHA


@pytest.mark.parametrize("sd", [0.02, 0.03])
@pytest.mark.parametrize("change", [1.05, 1 / 1.05])
def test_a_change_at_the_threshold_is_found(sd: float, change: float) -> None:
    """+5%, and /cpu with 5% more work (goodput x1/1.05 = -4.76%), threshold 5%, at the
    per-pair spreads ab measures (2-3%), within ab's 60 pairs: found (*different*) in
    >= 95% of sequences (the issue asks 9 of 10)."""
    x = _rng(3).normal(math.log(change), sd, (SEQUENCES, AB_PAIRS))
    verdict, pairs = simulate(x, threshold_pct=5.0)
    assert float(np.mean(verdict == DIFFERENT)) >= 0.95
    assert np.median(pairs) <= 20


def test_a_lasting_small_difference_is_not_called() -> None:
    """Two processes of the same code can differ by a couple of percent for good (hash
    seeds, memory layout): an interval that only had to exclude 0 would call a 2%
    difference *regressed* once enough pairs came in; clearing half the threshold, it
    ends *same*."""
    x = _rng(5).normal(math.log(1.02), 0.03, (SEQUENCES, AB_PAIRS))
    verdict, _ = simulate(x, threshold_pct=5.0)
    assert float(np.mean(verdict == DIFFERENT)) <= 0.01
    assert float(np.mean(verdict == SAME)) >= 0.95


def test_a_small_change_mostly_ends_same() -> None:
    """1% at a 5% threshold: mostly *same*; *different* in few (it is not 0)."""
    x = _rng(4).normal(math.log(1.01), 0.03, (SEQUENCES, LOOKS))
    verdict, _ = simulate(x, threshold_pct=5.0)
    assert float(np.mean(verdict == SAME)) >= 0.9


def _martingale(x: np.ndarray, m: float, c: float = MIXTURE_PRECISION) -> float:
    """The t-mixture likelihood ratio of the scale-free data at mean ``m``."""
    y = x - m
    n, s, q = len(y), float(y.sum()), float((y**2).sum())
    return math.sqrt(c / (n + c)) * (1 - s * s / ((n + c) * q)) ** (-n / 2)


def test_the_interval_is_where_the_martingale_stays_below_one_over_alpha() -> None:
    """The closed form against its definition: inside <=> M_n(m) < 1/alpha."""
    x = _rng(5).normal(0.01, 0.03, 12)
    iv = interval(x)
    assert math.isfinite(iv.low) and iv.low < iv.mean < iv.high
    for m in (iv.low, iv.high):
        assert _martingale(x, m) == pytest.approx(1 / ALPHA, rel=1e-6)
    for m in (iv.mean, (iv.mean + iv.high) / 2, (iv.mean + iv.low) / 2):
        assert _martingale(x, m) < 1 / ALPHA
    for m in (iv.high + 0.001, iv.low - 0.001):
        assert _martingale(x, m) > 1 / ALPHA


def test_few_pairs_give_no_interval() -> None:
    assert interval([0.01, 0.02, 0.0]).high == math.inf
    assert decide(interval([0.0] * 2 + [1e-9]), 5.0) != SAME


def test_compare_pairs_verdicts() -> None:
    rng = np.random.default_rng(SEED)
    base = [1000 * rng.lognormal(0, 0.2) for _ in range(12)]  # large drift between pairs
    noise = rng.lognormal(0, 0.02, 12)
    slower = compare_pairs("rps", [(b, b * n / 1.1) for b, n in zip(base, noise, strict=True)])
    assert slower.test == PAIRED and slower.verdict == REGRESSED
    assert slower.n_baseline == slower.n_candidate == 12
    assert slower.ci_low is not None and slower.ci_high is not None
    assert slower.ci_low < slower.change_pct < slower.ci_high < 0
    assert slower.baseline and slower.candidate  # geometric means: their ratio is the change
    assert 100 * (slower.candidate / slower.baseline - 1) == pytest.approx(slower.change_pct)
    faster = compare_pairs("p50", [(b, b * n / 1.1) for b, n in zip(base, noise, strict=True)])
    assert faster.verdict == IMPROVED  # latency: lower is better
    two = compare_pairs("rps", [(1000.0, 1000.0), (1000.0, 1001.0)])
    assert two.verdict == UNDECIDED and two.why() == "2 paired repetition(s), 3 needed"
    none = compare_pairs("rps", [(1000.0, None), (None, 1.0)])
    assert none.verdict == UNDECIDED and "no pair" in none.why()


def _family_false_alarms(alpha: float, family: int, sd: float, offset: int) -> float:
    """A/A: the share of gates (``family`` independent metrics, ab's rule: each stops at
    its first verdict) where any metric ends *different*."""
    x = _rng(offset).normal(0.0, sd, (SEQUENCES * family, LOOKS))
    n = np.arange(1, LOOKS + 1)
    means = np.cumsum(x, axis=1) / n
    ss = np.maximum(np.cumsum(x**2, axis=1) - n * means**2, 0.0)
    same, different = decide_many(means, half_width(n, ss, alpha), n, 5.0)
    decided = same | different
    first = np.where(decided.any(axis=1), decided.argmax(axis=1), LOOKS - 1)
    called = different[np.arange(len(first)), first] & decided.any(axis=1)
    return float(called.reshape(SEQUENCES, family).any(axis=1).mean())


def test_a_gate_of_many_endpoints_keeps_its_false_alarms_under_alpha() -> None:
    """14 endpoints of a many-route app, each with a few requests a segment (pairs spread
    20%): at 5% a metric, some endpoint ends *different* in about one A/A gate in nine;
    at 5% / 14 a metric (Bonferroni, as ``compare`` shares ALPHA over the gate's paired
    verdicts), in under 5% of them."""
    plain = _family_false_alarms(ALPHA, 14, 0.2, 7)
    shared = _family_false_alarms(ALPHA / 14, 14, 0.2, 7)
    assert plain > 2 * ALPHA, plain  # the problem is real
    assert shared <= ALPHA, shared


def test_the_gates_family_sets_each_verdicts_alpha() -> None:
    """A route with few requests whose first five pairs happen to agree (measured on a
    13-route app from PyPI, A/A): called *regressed* alone, not within a 56-verdict gate."""
    from reports.gate import family_size, parse_fail_on
    from runfolder.figures import ALL

    counts = [(64, 46), (51, 39), (58, 47), (77, 57), (73, 56)]
    pairs = [(b / 3.0, c / 3.0) for b, c in counts]
    assert compare_pairs("rps", pairs).verdict == REGRESSED
    assert compare_pairs("rps", pairs, alpha=ALPHA / 56).verdict == UNDECIDED
    gate = parse_fail_on("rps:-5%,p50:+5%,p99:+10%,cpu:+5%,errors:>1%")
    routes = [ALL, *(f"GET /r{i}" for i in range(13))]
    assert family_size([routes], gate) == 14 * 4
    assert family_size([routes], gate, (ALL,)) == 4
    assert family_size([routes], gate, (ALL, "GET /r1")) == 8
    assert family_size([[ALL, "GET /cpu"]], gate) == 4  # ALL of one endpoint is that endpoint
    assert family_size([[ALL, "GET /cpu"], [ALL, "GET /json"]], gate) == 8
