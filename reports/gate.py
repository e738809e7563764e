"""The CI gate: ``--fail-on "p99:+10%,rps:-5%,errors:>0.1%"``, parsed strictly.

Relative gates (every metric of ``reports.compare.METRICS``: ``rps``, ``p50``,
``p90``, ``p99``, ``p99.9``, ...) name the direction that fails: ``p99:+10%`` fails
when p99 rose by 10% or more, ``rps:-5%`` when throughput fell by 5% or more, and only
when the change is statistically significant (paired: ``reports.sequential``,
unpaired: ``reports.stats``). ``errors:>0.1%`` fails when the candidate's error rate
(all repetitions) is above 0.1%, significance aside.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reports.comparison import METRICS, ComparisonRow, Threshold
from runfolder.errors import ConfigError
from runfolder.figures import ALL

_ITEM = re.compile(
    r"^(?P<metric>[a-z0-9.]+):(?:(?P<sign>[+-])(?P<rel>\d+(?:\.\d+)?)%|>(?P<abs>\d+(?:\.\d+)?)%)$"
)


def relative_metrics() -> tuple[str, ...]:
    """The metrics a relative gate can name: those ``reports.compare`` compares."""
    return tuple(m.name for m in METRICS)


def _usage(relative: Sequence[str]) -> str:
    return (
        f"expected comma-separated <metric>:+N% or <metric>:-N% for {', '.join(relative)} "
        "and errors:>N%, e.g. --fail-on 'p99:+10%,rps:-5%,errors:>0.1%'"
    )


def parse_fail_on(spec: str | None) -> list[Threshold]:
    """Thresholds from a ``--fail-on`` spec; a bad spec raises ``ConfigError``."""
    if spec is None:
        return []
    relative = relative_metrics()
    usage = _usage(relative)
    if not spec.strip():
        raise ConfigError(f"--fail-on is empty: {usage}")
    out: list[Threshold] = []
    seen: set[tuple[str, str]] = set()
    for raw in spec.split(","):
        item = raw.strip()
        m = _ITEM.match(item)
        if not m:
            raise ConfigError(f"--fail-on: cannot read {item!r}: {usage}")
        metric = m["metric"]
        if metric == "errors":
            if m["abs"] is None:
                raise ConfigError(
                    f"--fail-on: {item!r}: errors takes an absolute rate, e.g. errors:>0.1%"
                )
            threshold = Threshold("errors", ">", float(m["abs"]))
        elif metric in relative:
            if m["rel"] is None:
                raise ConfigError(
                    f"--fail-on: {item!r}: {metric} takes a signed relative "
                    f"change, e.g. {metric}:+10% or {metric}:-5%"
                )
            threshold = Threshold(metric, m["sign"], float(m["rel"]))
        else:
            raise ConfigError(f"--fail-on: unknown metric {metric!r} in {item!r}: {usage}")
        if threshold.value <= 0 and threshold.metric != "errors":
            raise ConfigError(f"--fail-on: {item!r}: the change must be more than 0%")
        key = (threshold.metric, threshold.sign)
        if key in seen:
            raise ConfigError(f"--fail-on: {metric} with {threshold.sign} is given twice")
        seen.add(key)
        out.append(threshold)
    return out


DEFAULT_FAIL_ON = "rps:-5%,p50:+5%,p99:+10%,cpu:+5%"
"""``ab``'s gate when ``--fail-on`` is not given."""


def gated_metrics(thresholds: list[Threshold]) -> dict[str, Threshold]:
    """Relative metrics the gate judges, by metric (``errors:>N%`` is an absolute cap)."""
    return {t.metric: t for t in thresholds if t.sign != ">"}


def fails(t: Threshold, verdict: str, change: float | None) -> bool:
    """A *different* verdict in the direction the threshold names."""
    if verdict not in ("improved", "regressed") or change is None:
        return False
    return change > 0 if t.sign == "+" else change < 0


def family_size(
    cells: list[list[str]], thresholds: list[Threshold], gate_endpoints: tuple[str, ...] = ()
) -> int:
    """How many paired verdicts the gate rests on: gated metrics x gated endpoints over
    the paired cells (``cells``: each one's endpoints). A cell's ``ALL`` counts only when it
    has more than one endpoint: with one, it is that endpoint's figures again."""
    endpoints = 0
    for names in cells:
        own = [n for n in names if n != ALL]
        judged = [n for n in names if not gate_endpoints or n in gate_endpoints]
        endpoints += min(len(judged), 1) if len(own) <= 1 else len(judged)
    return max(1, endpoints * max(1, len(gated_metrics(thresholds))))


def family_text(family: int) -> str:
    """How the family of paired verdicts shares the false-alarm rate, in words."""
    from reports.sequential import ALPHA

    if family <= 1:
        return ""
    return (
        f"; each of the gate's {family} paired verdicts at {1 - ALPHA / family:.2%}, so that "
        f"all of them together cry wolf at most {ALPHA:.0%} of the time (Bonferroni)"
    )


def gated_rows(rows: list[ComparisonRow], endpoints: tuple[str, ...]) -> list[ComparisonRow]:
    """The rows the gate judges: those of ``endpoints`` (all rows when it is empty)."""
    if not endpoints:
        return rows
    measured = list(dict.fromkeys(r.endpoint for r in rows))
    unknown = [e for e in endpoints if e not in measured]
    if unknown:
        named = [e for e in measured if e != ALL]
        shown = ", ".join(named[:12])
        more = f" and {len(named) - 12} more" if len(named) > 12 else ""
        raise ConfigError(
            f"--gate-endpoint {unknown[0]!r}: no endpoint of that name was measured; "
            f"give one of: all (every endpoint merged), {shown}{more}"
        )
    return [r for r in rows if r.endpoint in endpoints]
