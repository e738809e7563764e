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
from dataclasses import dataclass

from runfolder.errors import ConfigError

_ITEM = re.compile(
    r"^(?P<metric>[a-z0-9.]+):(?:(?P<sign>[+-])(?P<rel>\d+(?:\.\d+)?)%|>(?P<abs>\d+(?:\.\d+)?)%)$"
)


def relative_metrics() -> tuple[str, ...]:
    """The metrics a relative gate can name: those ``reports.compare`` compares."""
    from reports.compare import METRICS  # the one list; compare imports this module

    return tuple(m.name for m in METRICS)


def _usage(relative: Sequence[str]) -> str:
    return (
        f"expected comma-separated <metric>:+N% or <metric>:-N% for {', '.join(relative)} "
        "and errors:>N%, e.g. --fail-on 'p99:+10%,rps:-5%,errors:>0.1%'"
    )


@dataclass(frozen=True)
class Threshold:
    metric: str  # a metric of reports.compare.METRICS, or errors
    sign: str  # "+", "-" (relative) or ">" (errors, absolute)
    value: float  # percent

    def __str__(self) -> str:
        return (
            f"{self.metric}:{self.sign}{self.value:g}%"
            if self.sign != ">"
            else (f"{self.metric}:>{self.value:g}%")
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

EXIT_PASSED, EXIT_REGRESSED, EXIT_UNDECIDED = 0, 1, 3


@dataclass(frozen=True)
class Finding:
    """A gated metric of one endpoint that fails the gate or could not be decided."""

    candidate: str
    cell: str
    endpoint: str
    metric: str
    gate: str  # the threshold, e.g. "p99:+10%", or "errors:+0.1pp" (the implicit rise rule)
    observed: str
    reasons: tuple[str, ...] = ()  # an undecided metric's flags from the measurement itself

    def __str__(self) -> str:
        return f"{self.gate} {self.candidate} {self.cell} {self.endpoint}: {self.observed}"


def gated_metrics(thresholds: list[Threshold]) -> dict[str, Threshold]:
    """Relative metrics the gate judges, by metric (``errors:>N%`` is an absolute cap)."""
    return {t.metric: t for t in thresholds if t.sign != ">"}


def fails(t: Threshold, verdict: str, change: float | None) -> bool:
    """A *different* verdict in the direction the threshold names."""
    if verdict not in ("improved", "regressed") or change is None:
        return False
    return change > 0 if t.sign == "+" else change < 0


def exit_code(violations: list[Finding], undecided: list[Finding], allow_undecided: bool) -> int:
    """0 all same or improved; 1 a regression; 3 undecided on a gated metric."""
    if violations:
        return EXIT_REGRESSED
    if undecided and not allow_undecided:
        return EXIT_UNDECIDED
    return EXIT_PASSED
