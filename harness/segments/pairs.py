"""Pairs of short segments on two sides that stay up: how ``ab`` measures, open to others.

Both sides' stacks run for the whole measurement; one persistent Locust (``Stepper``)
sends each segment to one side's URL. A *pair* is one segment per side, back to back, in
the order the caller gives ("AB": baseline first, or "BA"): drift of the machine between
pairs hits both sides of a pair alike, and a random order cancels what the position inside
a pair does (the second segment runs on a machine the first one warmed). Each segment is a
closed-model step by default (``rate`` 0: ``--users`` users, each sending when the last
answer came), so its goodput is what the side sustains, beside p50, p99 and CPU per
request; a positive ``rate`` makes open-model segments instead (the Stepper must then be
open-model and the scenario sessionless).

Every measured segment is one summary row (``step_row``: as ``run`` makes it) with
``side``, ``repetition`` = the pair's index and ``order``; ``warm`` runs one discarded
segment per side first, so no pair pays for a cold server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.segments.engine import Stepper
from harness.segments.sides import RunFolder, Side, StepTimes, step_row

ORDERS = ("AB", "BA")  # A: the first side given (the baseline), B: the second


@dataclass
class PairRunner:
    """Segments of ``sides`` (A, B) on ``stepper``; measured rows join ``run``."""

    run: RunFolder
    stepper: Stepper
    sides: tuple[Side, Side]
    times: StepTimes  # warmup: each segment's settle time; duration: its measured seconds
    rate: float = 0.0  # 0: closed-model segments
    on_segment: Callable[[dict[str, Any]], None] = lambda row: None

    def warm(self) -> None:
        """One discarded segment per side: first requests pay imports, connections and
        cold caches, which no measured pair should."""
        for side in self.sides:
            self.stepper.run(self.rate, self.times.warmup, self.times.duration, side.stack.url)

    def pair(self, index: int, order: str) -> list[dict[str, Any]]:
        """One segment per side in ``order``; their rows, in the order they ran."""
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        rows = []
        for letter in order:
            side = self.sides[ORDERS[0].index(letter)]
            row = self.segment(side)
            if row is None:
                continue
            row["verify"] = side.workload.verify
            row["warnings"] = [*side.workload.notes, *row["warnings"]]
            row["repetition"] = index
            row["order"] = order
            self.run.add_row(row)
            self.on_segment(row)
            rows.append(row)
        return rows

    def segment(self, side: Side) -> dict[str, Any] | None:
        """One measured segment on ``side``: its summary row (None: Locust wrote nothing)."""
        t = self.times
        step, folder = self.stepper.run(self.rate, t.warmup, t.duration, side.stack.url)
        return step_row(self.run, side, self.stepper, step, folder, t, duration=t.duration)
