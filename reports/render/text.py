"""The words every format of a comparison shares: a change, a verdict, the method."""

from __future__ import annotations

from reports.comparison import METRICS, MIN_PAIRS, MIN_REPS, Change, Comparison
from reports.html import ms, num
from reports.sequential import ALPHA as SEQ_ALPHA
from reports.stats import ALPHA, CONFIDENCE, ERROR_RISE_PP

UNITS = {**{m.name: m.unit for m in METRICS}, "errors": "%"}


METHOD = (
    "Per metric, one figure per repetition or segment (goodput: successful responses per "
    "second). *Paired* (the two sides of one interleaved 'ab' folder): one log ratio "
    "candidate/baseline per pair, and a time-uniform "
    f"{1 - SEQ_ALPHA:.0%} confidence sequence of their mean (Student-t mixture), valid "
    "however often it is looked at; *same*: the interval inside ± the threshold; "
    "*different* (improved/regressed): the interval excludes 0 and is not inside ± the "
    f"threshold; *undecided*: neither or fewer than {MIN_PAIRS} pairs. *Unpaired* (two "
    "separate runs): *different*: min(p) of Mann-Whitney U and Kolmogorov-Smirnov "
    f"<= {ALPHA} and the change of the median beyond the threshold; *same*: the "
    f"{CONFIDENCE:.0%} bootstrap interval of the ratio of medians inside ± the threshold; "
    f"*undecided*: neither or fewer than {MIN_REPS} repetitions. Default thresholds: "
    + ", ".join(f"{m.name} {m.threshold:g}%" for m in METRICS)
    + ". Either is undecided on a generator-bound row, dropped open-model requests, "
    "failed verify or a thin percentile. "
    f"Errors: the pooled error share, a rise beyond {ERROR_RISE_PP}pp with Fisher's exact "
    f"p <= {ALPHA} regresses."
)


def _fmt(c: Change, value: float | None) -> str:
    if value is None:
        return "–"
    if c.metric == "errors":
        return f"{value:.2f}%"
    return num(value) if c.metric == "rps" else ms(value)


def change_text(c: Change) -> str:
    """``base → cand (+x% [lo, hi])``."""
    unit = "pp" if c.metric == "errors" else "%"
    if c.change_pct is None:
        return f"{_fmt(c, c.baseline)} → {_fmt(c, c.candidate)}"
    ci = f" [{c.ci_low:+.1f}, {c.ci_high:+.1f}]" if c.ci_low is not None else ""
    return f"{_fmt(c, c.baseline)} → {_fmt(c, c.candidate)} ({c.change_pct:+.1f}{unit}{ci})"


def verdict_text(c: Change) -> str:
    return c.verdict + (f" ({c.why()})" if c.verdict == "undecided" else "")


def tests_lines(cmp: Comparison) -> list[str]:
    """Which test judged each candidate, and why (paired, or why it could not pair)."""
    return [f"{name}: {text}" for name, text in cmp.tests.items()]
