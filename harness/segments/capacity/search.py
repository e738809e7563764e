"""Capacity under an SLO: the search over open-model step results, as pure logic.

A *step* sends a fixed rate (the open model, ``--bench-rate``) for a short time; this
module judges each step against the SLO and decides the next rate:

1. exponential steps up from a low rate (x ``factor``) until a step fails;
2. bisection of the bracket [last pass, first fail] until it is within ``tolerance``;
3. one longer confirmation step at the rate found (a queue that grows slowly passes a
   short step and fails a long one); if it fails, the rate steps down and confirms again.

A step passes when the corrected p99 and the error share meet the SLO, the achieved
rate is within 2% of the asked one, nothing was dropped and latency does not trend
upward within the step (the last third's p50 against the first third's). A step whose
*generator* could not keep up ends the search: "generator-bound at R req/s", not a
capacity. The search stops on its time bound and says so. Nothing here starts a
process: ``harness/stepper.py`` runs the steps, tests feed synthetic ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from runfolder.errors import ConfigError

ACHIEVED_TOLERANCE = 0.02  # achieved rate within 2% of the asked one
TREND_RATIO = 1.5  # last third's p50 over the first third's ...
TREND_MIN_SHARE = 0.1  # ... and rising by more than 10% of the SLO's p99
MAX_CONFIRMS = 3

_SLO_PART = re.compile(r"^\s*(p\d+(?:\.\d+)?|errors)\s*:\s*([0-9.]+)\s*(ms|s|%)?\s*$", re.I)


@dataclass(frozen=True)
class Slo:
    """A latency percentile bound (corrected, from the intended send) and an error share."""

    p99_ms: float = 50.0
    error_pct: float = 0.1

    @classmethod
    def parse(cls, text: str) -> Slo:
        """``"p99:50ms,errors:0.1%"`` -> Slo; a ConfigError (exit 2) that says what to write."""
        hint = 'write it like --slo "p99:50ms,errors:0.1%"'
        p99: float | None = None
        errors = 0.0
        for part in filter(None, (p.strip() for p in text.split(","))):
            m = _SLO_PART.match(part)
            if not m:
                raise ConfigError(f"--slo: cannot read {part!r}; {hint}")
            key, number, unit = m.group(1).lower(), float(m.group(2)), (m.group(3) or "").lower()
            if key == "errors":
                if unit not in ("%", "") or not 0 <= number <= 100:
                    raise ConfigError(f"--slo: errors must be a share like 0.1%; {hint}")
                errors = number
            elif key == "p99":
                if unit not in ("ms", "s") or number <= 0:
                    raise ConfigError(f"--slo: p99 needs a positive time in ms or s; {hint}")
                p99 = number * (1000.0 if unit == "s" else 1.0)
            else:
                raise ConfigError(f"--slo: only p99 and errors are supported, not {key}; {hint}")
        if p99 is None:
            raise ConfigError(f"--slo: no p99 bound given; {hint}")
        return cls(p99, errors)

    @property
    def text(self) -> str:
        return f"p99 <= {self.p99_ms:g} ms, errors <= {self.error_pct:g}%"

    def to_json(self) -> dict[str, Any]:
        return {"p99_ms": self.p99_ms, "error_pct": self.error_pct, "text": self.text}


@dataclass
class Step:
    """What one fixed-rate step measured (latencies corrected, in ms)."""

    rate: float
    achieved: float
    p50: float | None
    p99: float | None
    errors: float  # percent of requests
    dropped: int = 0
    requests: int = 0
    p50_first: float | None = None  # p50 of the first third of the measured seconds
    p50_last: float | None = None  # ... and of the last third
    generator_bound: bool = False
    thin: bool = False  # p99 rests on fewer than 10 samples above it
    confirm: bool = False
    passed: bool = False
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("achieved", "p50", "p99", "p50_first", "p50_last"):
            if data[key] is not None:
                data[key] = round(float(data[key]), 3)
        return data


def judge(step: Step, slo: Slo) -> tuple[bool, str]:
    """Whether ``step`` is sustainable under ``slo``, and why not in a few words."""
    if step.generator_bound:
        return False, f"generator-bound at {step.rate:g} req/s"
    if step.requests == 0 or step.p99 is None:
        return False, "no request completed"
    if step.dropped:
        return False, f"{step.dropped} requests dropped"
    if step.errors > slo.error_pct:
        return False, f"errors {step.errors:.2f}% > {slo.error_pct:g}%"
    if step.p99 > slo.p99_ms:
        return False, f"p99 {step.p99:.1f} ms > {slo.p99_ms:g} ms"
    if step.achieved < (1 - ACHIEVED_TOLERANCE) * step.rate:
        return False, f"achieved {step.achieved:.0f} of {step.rate:g} req/s"
    first, last = step.p50_first, step.p50_last
    if (
        first
        and last
        and last > TREND_RATIO * first
        and last - first > TREND_MIN_SHARE * slo.p99_ms
    ):
        return False, f"latency rising within the step (p50 {first:.1f} -> {last:.1f} ms)"
    return True, "within the SLO"


@dataclass(frozen=True)
class SearchPlan:
    start: float = 50.0  # the first step's rate (req/s)
    factor: float = 2.0  # exponential growth until a step fails
    tolerance: float = 0.05  # bisect until (high - low) / low <= tolerance
    max_rate: float = 50_000.0
    max_time: float = 60.0  # seconds for the whole search
    step_seconds: float = 3.0  # the cost of one step, to stop before the bound
    confirm_seconds: float = 6.0
    confirm: bool = True
    ceiling: float | None = None  # a rate known to fail (a saturation probe): bisect below it
    descend: float = 0.0  # > 0: when the first step fails, retry at rate x descend (to 5 req/s)


@dataclass
class Capacity:
    """The outcome of one search: ``rate`` is None when there is no capacity to state."""

    rate: float | None
    slo: Slo
    steps: list[Step]
    bracket: tuple[float, float | None]  # (highest pass, lowest fail); 0 / None: none yet
    outcome: str  # found | generator-bound | first-step-fails | max-rate | time-bound
    stopped_on_bound: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        high = round(self.bracket[1], 1) if self.bracket[1] else None
        return {
            "rate": round(self.rate, 1) if self.rate is not None else None,
            "slo": self.slo.to_json(),
            "steps": [s.to_json() for s in self.steps],
            "bracket": [round(self.bracket[0], 1), high],
            "outcome": self.outcome,
            "stopped_on_bound": self.stopped_on_bound,
            "message": self.message,
        }


@dataclass
class CapacitySearch:
    """The search as a state machine: ``next_step()`` -> run it -> ``record(step)``."""

    slo: Slo
    plan: SearchPlan = field(default_factory=SearchPlan)
    clock: Callable[[], float] | None = None
    steps: list[Step] = field(default_factory=list)
    low: float = 0.0  # highest rate that passed
    high: float | None = None  # lowest rate that failed
    phase: str = "explore"  # explore | bisect | confirm | done
    outcome: str = ""
    stopped_on_bound: bool = False
    confirms: int = 0
    _t0: float | None = None
    _candidate: float = 0.0

    def __post_init__(self) -> None:
        if self.plan.ceiling:
            self.high = self.plan.ceiling

    def _elapsed(self) -> float:
        if self.clock is None:
            return 0.0
        now = self.clock()
        if self._t0 is None:
            self._t0 = now
        return now - self._t0

    def next_step(self) -> tuple[float, bool] | None:
        """(rate, confirmation?) of the next step, or None when the search is over."""
        if self.phase == "done":
            return None
        self._elapsed()
        rate, confirm = self._propose()
        if self.phase == "done":
            return None
        cost = self.plan.confirm_seconds if confirm else self.plan.step_seconds
        if self.clock is not None and self._elapsed() + cost > self.plan.max_time:
            self.phase, self.outcome, self.stopped_on_bound = "done", "time-bound", True
            return None
        return rate, confirm

    def _propose(self) -> tuple[float, bool]:
        p = self.plan
        if self.phase == "descend":
            return self._candidate, False
        if self.phase == "explore":
            rate = p.start if not self.steps else self.low * p.factor
            if rate > p.max_rate:
                self.phase, self.outcome = "done", "max-rate"
            return min(rate, p.max_rate), False
        if self.phase == "bisect" and self.high is None:
            self.phase = "explore"  # a pass above the old bracket: explore on from it
            return self._propose()
        if self.phase == "bisect":
            assert self.high is not None
            if (self.high - self.low) / self.low <= p.tolerance:
                if not p.confirm:
                    self.phase, self.outcome = "done", "found"
                    return self.low, False
                self.phase, self._candidate = "confirm", self.low
            else:
                return round((self.low + self.high) / 2, 1), False
        return self._candidate, True

    def record(self, step: Step) -> Step:
        step.passed, step.reason = judge(step, self.slo)
        self.steps.append(step)
        if step.generator_bound:
            self.phase, self.outcome = "done", "generator-bound"
        elif step.confirm:
            self._after_confirm(step)
        elif step.passed:
            self.low = max(self.low, step.rate)
            if self.phase == "descend":
                self.phase = "bisect"
            if self.high is not None and self.high <= self.low:
                self.high = None  # noise: a higher rate passed after a lower one failed
        else:
            self.high = step.rate if self.high is None else min(self.high, step.rate)
            if self.low <= 0 and self.plan.descend and step.rate * self.plan.descend >= 5:
                self.phase, self._candidate = "descend", round(step.rate * self.plan.descend, 1)
            elif self.low <= 0:
                self.phase, self.outcome = "done", "first-step-fails"
            elif self.phase == "explore":
                self.phase = "bisect"
        if self.phase == "explore" and self.high is not None and self.low > 0:
            self.phase = "bisect"
        return step

    def _after_confirm(self, step: Step) -> None:
        self.confirms += 1
        if step.passed:
            self.phase, self.outcome = "done", "found"
            return
        self.high = step.rate
        self._candidate = round(step.rate * (1 - 2 * self.plan.tolerance), 1)
        self.low = min(self.low, self._candidate)
        if self.confirms >= MAX_CONFIRMS:
            self.phase, self.outcome = "done", "unconfirmed"

    def result(self) -> Capacity:
        outcome = self.outcome or "time-bound"
        rate: float | None = self.low if self.low > 0 else None
        last = self.steps[-1] if self.steps else None
        if outcome == "found":
            message = f"max sustainable {self.low:.0f} req/s at {self.slo.text}"
        elif outcome == "generator-bound":
            rate = None
            at = last.rate if last else 0.0
            message = (
                f"generator-bound at {at:g} req/s: the load generator, not the server, "
                "could not keep up; no capacity stated (give Locust more CPUs or "
                "--processes)"
            )
        elif outcome == "first-step-fails":
            rate = None
            why = last.reason if last else ""
            message = (
                f"even the first step ({self.plan.start:g} req/s) fails: {why}; "
                "lower the start rate or relax the SLO"
            )
        elif outcome == "max-rate":
            message = f"every step passed up to the highest rate tried ({self.low:.0f} req/s)"
        elif outcome == "unconfirmed":
            rate = None
            message = (
                f"no rate confirmed: {MAX_CONFIRMS} confirmation steps failed down to "
                f"{self._candidate:g} req/s (the server is noisy or degrading)"
            )
        else:
            message = (
                f"stopped on the time bound ({self.plan.max_time:g} s) after "
                f"{len(self.steps)} steps: at least {self.low:.0f} req/s"
                + (f", below {self.high:.0f}" if self.high else "")
            )
        return Capacity(
            rate,
            self.slo,
            list(self.steps),
            (self.low, self.high),
            outcome,
            self.stopped_on_bound,
            message,
        )


def search(
    run_step: Callable[[float, bool], Step],
    slo: Slo,
    plan: SearchPlan | None = None,
    clock: Callable[[], float] | None = None,
) -> Capacity:
    """Drive a whole search with ``run_step(rate, confirm) -> Step``."""
    state = CapacitySearch(slo, plan or SearchPlan(), clock)
    for _ in range(200):  # bounded: the plan's tolerance ends it long before
        proposal = state.next_step()
        if proposal is None:
            break
        rate, confirm = proposal
        step = run_step(rate, confirm)
        step.confirm = confirm
        state.record(step)
    return state.result()
