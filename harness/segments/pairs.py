"""Pairs of segments on two sides that stay up, measured at the same time.

Both sides' stacks run for the whole measurement, each driven by its own persistent
Locust (``Stepper``). A *pair* is one segment per side, both started together and
measured over the same wall-clock seconds (``together``): whatever the machine does
during them (another tenant's burst stealing CPU, a slower host, a page-cache flush)
hits both sides alike and cancels in the pair's ratio. Segments taken one after the
other do not cancel it: on a shared 2-core VM, 1-second segments of one unchanged
server vary from 600 to 2,000 req/s as the hypervisor steals time, and a pair's
back-to-back ratio spread ±15%; loaded together, the same pairs' CPU per request
agrees within ~2% (duet benchmarking: Bulej et al., ICPE 2020).

Both sides share the server CPUs while a pair runs. When both are CPU-bound each gets
an equal share, so their throughput ratio is the inverse of their CPU per request
ratio, the ratio each would show alone; what each serves alone is not measured here
(``run`` and ``capacity`` measure that). The *order* (which Locust is started first,
"AB": baseline first, or "BA") is drawn by the caller and kept in each row: the few
milliseconds between the two starts then fall on each side equally often.

Each segment is a closed-model step by default (``rate`` 0: ``--users`` users per
side, each sending when the last answer came), beside p50, p99 and CPU per request.
Both segments of a pair get one seed for their users' random choices (``--bench-seed``,
``loadtests/options.py``): on an app of many routes they request the same mix, so the
mix's randomness cancels in the pair's ratio too. Every measured segment is one summary
row (``step_row``: as ``run`` makes it) with ``side``, ``repetition`` = the pair's index
and ``order``; ``warm`` runs one discarded pair first, so no pair pays for a cold server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.segments.engine import Stepper, together
from harness.segments.sides import RunFolder, Side, StepTimes, step_row

ORDERS = ("AB", "BA")  # A: the first side given (the baseline), B: the second


@dataclass
class PairRunner:
    """Pairs of segments of ``sides`` (A, B), each side on its own ``steppers`` entry;
    measured rows join ``run``."""

    run: RunFolder
    steppers: tuple[Stepper, Stepper]
    sides: tuple[Side, Side]
    times: StepTimes  # warmup: each segment's settle time; duration: its measured seconds
    rate: float = 0.0  # 0: closed-model segments
    on_segment: Callable[[dict[str, Any]], None] = lambda row: None
    seed: int = 0  # a pair's two segments draw their users' choices from f"{seed}:{index}"

    def warm(self) -> None:
        """One discarded pair: first requests pay imports, connections and cold caches,
        which no measured pair should."""
        self._together("AB", f"{self.seed}:warm")

    def pair(self, index: int, order: str) -> list[dict[str, Any]]:
        """One segment per side, at the same time, started in ``order``; their rows."""
        rows = []
        for side, stepper, step, folder in self._together(order, f"{self.seed}:{index}"):
            t = self.times
            row = step_row(self.run, side, stepper, step, folder, t, duration=t.duration)
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

    def _together(self, order: str, seed: str) -> list[tuple[Side, Stepper, Any, Any]]:
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        t = self.times
        picks = [ORDERS[0].index(letter) for letter in order]
        done = together(
            [
                (self.steppers[i], self.rate, t.warmup, t.duration, self.sides[i].stack.url)
                for i in picks
            ],
            seed,
        )
        got = {i: result for i, result in zip(picks, done, strict=True)}
        return [(self.sides[i], self.steppers[i], *got[i]) for i in (0, 1)]
