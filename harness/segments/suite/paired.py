"""Paired segments: which study gets the next pair, in which order, and when to stop.

Pure logic over an engine that runs segments on sides at the same time (``SegmentEngine``): the live
one starts servers and drives Locust (``live.py``), the tests' fake returns synthetic
figures. A *segment* is a short closed-model test on one side (every connection busy:
the side serves as fast as it can); a *pair* is one segment of each side of a study,
measured at the same time (each side has its own Locust) and started in an order drawn
from a seeded generator (A B or B A): whatever the machine does during the pair lands on
both sides alike and cancels in the pair's log ratio.

Allocation: every study first gets ``min_pairs``; then each further pair goes to the
study whose interval is widest against its target, until every interval meets its
target, a study reaches ``max_pairs``, or the next pair would overrun the deadline.
Stopping depends on the interval's width only, never on where it lies.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.segments.suite.estimates import half_width, log_ratio

CLOSED = 0.0  # a segment's rate: 0 is the closed model (every connection busy)


@dataclass
class Segment:
    """What one segment measured on one side."""

    cell_id: str
    rate: float  # asked rate; 0: closed model
    throughput: float  # req/s over the measured seconds
    requests: int
    p50: float | None
    p99: float | None
    errors: float  # percent
    cpu_ms: float | None = None  # the side's server processes' CPU ms per request
    generator_bound: bool = False
    thin: bool = False
    wall_s: float = 0.0  # what the segment cost, start to results


class SegmentEngine(Protocol):
    def together(
        self,
        cells: Sequence[str],
        seconds: float,
        rate: float = CLOSED,
        row: dict[str, Any] | None = None,
    ) -> list[Segment]:
        """Segments of all ``cells`` at the same time, started in the order given, each
        at ``rate`` (0: the closed model); with ``row``, their summary rows too; their
        segments in that order."""
        ...


@dataclass
class PairLog:
    """One study's pairs: both sides' segments and each pair's log ratio."""

    key: str
    base: str  # cell ids
    variant: str
    target: float  # the 95% half-width wanted, in log space
    base_segments: list[Segment] = field(default_factory=list)
    variant_segments: list[Segment] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)  # "AB" or "BA" per pair
    logs: list[float] = field(default_factory=list)
    empty: int = 0  # pairs where a side served nothing (left out of the ratio)

    def half(self) -> float:
        return half_width(self.logs)

    def met(self) -> bool:
        return self.half() <= self.target


def next_study(logs: list[PairLog], min_pairs: int, max_pairs: int) -> PairLog | None:
    """The study that gets the next pair, or None when every one is done."""
    open_ = [p for p in logs if len(p.logs) + p.empty < max_pairs]
    young = [p for p in open_ if len(p.logs) < min_pairs]
    if young:
        return min(young, key=lambda p: len(p.logs))
    wide = [p for p in open_ if not p.met()]
    if not wide:
        return None
    return max(wide, key=lambda p: p.half() / p.target)


@dataclass
class PairPlan:
    segment_s: float
    min_pairs: int
    max_pairs: int
    deadline: float  # on ``clock``: no pair starts that would end after it


def run_pairs(
    engine: SegmentEngine,
    logs: list[PairLog],
    plan: PairPlan,
    rng: random.Random,
    clock: Callable[[], float],
    say: Callable[[str], None] = lambda _: None,
) -> str:
    """Pairs until done; returns why it stopped."""
    seen: list[float] = []  # what each pair cost
    limit = plan.max_pairs * len(logs)
    for _ in range(limit):
        study = next_study(logs, plan.min_pairs, plan.max_pairs)
        if study is None:
            wide = [p.key for p in logs if not p.met()]
            if wide:
                return f"{', '.join(wide)}: {plan.max_pairs} pairs, the most a study gets"
            return "every interval met its target"
        cost = max(seen[-5:]) if seen else 0.0
        if clock() + cost > plan.deadline:
            return "the time budget (--max-time) ran out"
        t0 = clock()
        forward = rng.random() < 0.5
        order = (study.base, study.variant) if forward else (study.variant, study.base)
        got = dict(zip(order, engine.together(order, plan.segment_s), strict=True))
        seen.append(clock() - t0)
        base, var = got[study.base], got[study.variant]
        study.base_segments.append(base)
        study.variant_segments.append(var)
        study.orders.append("AB" if forward else "BA")
        ratio = log_ratio(base.throughput, var.throughput)
        if ratio is None:
            study.empty += 1
        else:
            study.logs.append(ratio)
        say(_pair_line(study, base, var))
    return "the pair limit"


def _pair_line(study: PairLog, base: Segment, var: Segment) -> str:
    n = len(study.logs)
    text = (
        f"  {study.key} pair {n + study.empty} ({study.orders[-1]}): "
        f"{base.throughput:.0f} -> {var.throughput:.0f} req/s"
    )
    if n:
        mean = sum(study.logs) / n
        half = study.half()
        if math.isfinite(half):
            text += (
                f", {math.exp(mean):.2f}x ({math.exp(mean - half):.2f}-{math.exp(mean + half):.2f})"
            )
    return text


def side_figures(segments: list[Segment]) -> dict[str, Any]:
    """A side's throughput (mean over its paired segments), its CPU per request (CPU
    over requests, all segments together) and how many segments the generator bound."""
    served = [s for s in segments if s.requests > 0]
    cpu = [(s.cpu_ms, s.requests) for s in served if s.cpu_ms is not None]
    weight = sum(n for _, n in cpu)
    return {
        "throughput": round(sum(s.throughput for s in served) / len(served), 1) if served else None,
        "segments": [round(s.throughput, 1) for s in segments],
        "cpu_segments": [None if s.cpu_ms is None else round(s.cpu_ms, 4) for s in segments],
        "cpu_ms": round(sum(c * n for c, n in cpu) / weight, 4) if weight else None,
        "generator_bound": sum(s.generator_bound for s in segments),
        "errors_max_pct": round(max((s.errors for s in segments), default=0.0), 3),
    }
