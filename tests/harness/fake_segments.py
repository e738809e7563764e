"""A fake segment engine for the suite: synthetic segments with known throughputs and noise.

No process starts. Each side has a true saturated throughput; every segment sees it times
a drift shared by all sides (a slow random walk: the machine's other tenants) times noise
of its own, and advances a fake clock by what a live segment would cost.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.segments.suite.paired import Segment

SEGMENT_COST_S = 0.8  # what one segment costs beyond its measured seconds, on the fake clock
CPU_WORK_S = 1.0  # each side's CPU per request = CPU_WORK_S / throughput (one busy core)


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeEngine:
    """``SegmentEngine`` over synthetic sides: cell_id -> true throughput and noise sd."""

    truth: dict[str, float]
    noise: dict[str, float]
    clock: FakeClock
    seed: int = 1
    rows: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, float]] = field(default_factory=list)
    drift: float = 0.0
    warming: dict[str, int] = field(default_factory=dict)  # cell -> segments until warm
    served: dict[str, int] = field(default_factory=dict)  # cell -> segments so far

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def together(
        self,
        cells: Sequence[str],
        seconds: float,
        rate: float = 0.0,
        row: dict[str, Any] | None = None,
    ) -> list[Segment]:
        """All at the same time: one tick of the clock, one drift for all."""
        self._tick(seconds)
        return [self._one(cell, rate, seconds, row) for cell in cells]

    def _tick(self, seconds: float) -> None:
        self.clock.now += SEGMENT_COST_S + seconds
        self.drift = 0.9 * self.drift + self.rng.gauss(0.0, 0.01)  # shared by every side

    def _one(
        self, cell_id: str, rate: float, seconds: float, row: dict[str, Any] | None
    ) -> Segment:
        self.calls.append((cell_id, rate))
        done = self.served[cell_id] = self.served.get(cell_id, 0) + 1
        # a side that warms (a cache filling) starts at half its throughput
        warm = min(1.0, 0.5 + 0.5 * done / self.warming[cell_id]) if cell_id in self.warming else 1
        true = self.truth[cell_id] * warm
        seen = true * math.exp(self.drift + self.rng.gauss(0.0, self.noise[cell_id]))
        served = seen if rate == 0 else rate
        # p99 at an open-model rate grows as the rate nears the side's throughput
        p99 = 5.0 / max(0.05, 1 - served / seen) if rate else 64 / seen * 1000
        seg = Segment(
            cell_id,
            rate,
            served,
            int(served * seconds),
            p99 / 3,
            p99,
            0.0,
            cpu_ms=1000.0 * CPU_WORK_S / true,  # one busy core
            thin=rate > 0 and served * seconds < 1000,
            wall_s=SEGMENT_COST_S + seconds,
        )
        if row is not None:
            self.rows.append(
                {"cell_id": cell_id, "repetition": 0, **row, **_row_figures(seg, true)}
            )
        return seg


def _row_figures(seg: Segment, true: float) -> dict[str, Any]:
    """A summary row's endpoint as the recorder makes it: the request thread's CPU
    (Server-Timing ``cpu``) as ``cpu_ms``, the queue part in the breakdown."""
    cpu = 1000.0 * CPU_WORK_S / true
    parts = {"queue": {"p50": 0.1, "p99": seg.p99 or 0.0, "mean": 0.2}}
    cpu_ms = {"count": seg.requests, "p50": cpu, "p99": 2 * cpu, "mean": cpu}
    latency = {"count": seg.requests, "p50": seg.p50, "p99": seg.p99}
    figures = {"requests": seg.requests, "rps": seg.throughput, "error_pct": 0.0}
    return {
        "rate": seg.rate,
        "endpoints": {
            "ALL": {**figures, "latency_ms": latency},
            "GET /w": {
                **figures,
                "latency_ms": latency,
                "breakdown": {"parts": parts},
                "cpu_ms": cpu_ms,
            },
        },
    }


@contextmanager
def fake_engine_for(engine: FakeEngine) -> Iterator[FakeEngine]:
    yield engine
