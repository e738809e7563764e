"""The suite's live segment engine: every side's server up at once, one Locust a side.

Every side of every study starts once, pinned to the server CPUs (an idle side costs
nothing), and stays up until the suite ends; each side gets its own persistent Locust
(``harness.segments.engine.Stepper``), so that a pair's two segments run at the same
time (``together``, over ``harness.segments.engine.together``) and whatever the machine does
meanwhile hits both. A segment also reads the side's server processes' CPU time before
and after it: CPU seconds over the requests the test completed is the side's CPU per
request, which no queueing inflates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from harness.segments.engine import Stepper, together
from harness.segments.sides import (
    RunFolder,
    Side,
    StepTimes,
    open_stepper,
    same_seed,
    start_side,
    step_row,
)
from harness.segments.suite.paired import CLOSED, Segment
from harness.segments.suite.studies import Study, group_cells
from harness.stack.processes import Supervisor


def cpu_seconds(side: Side) -> float:
    """User + system CPU seconds of the side's server processes and their children."""
    total = 0.0
    for child in side.stack.server_side():
        try:
            root = psutil.Process(child.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            try:
                used = proc.cpu_times()
            except psutil.Error:
                continue
            total += used.user + used.system
    return total


def completed(folder: Path) -> int:
    """Requests the test completed, warm-up and partial seconds included (recorder.json)."""
    try:
        recorder = json.loads((folder / "recorder.json").read_text())
    except (OSError, ValueError):
        return 0
    return sum(
        int(entry.get("count", 0))
        for window in recorder.get("windows", [])
        for entry in (window.get("endpoints") or {}).values()
    )


class LiveEngine:
    """``SegmentEngine`` on real servers (see the module's docstring)."""

    def __init__(self, run: RunFolder, warmup: float) -> None:
        self.run = run
        self.warmup = warmup
        self.sides: dict[str, tuple[Side, Stepper]] = {}

    def together(
        self,
        cells: Sequence[str],
        seconds: float,
        rate: float = CLOSED,
        row: dict[str, Any] | None = None,
    ) -> list[Segment]:
        """Segments of all ``cells`` at the same time (started in the order given; each
        at ``rate``, 0 the closed model; with ``row``, their summary rows too); their
        segments in that order."""
        t0 = time.monotonic()
        sides = [self.sides[c] for c in cells]
        before = [cpu_seconds(side) for side, _ in sides]
        done = together(
            [(stepper, rate, self.warmup, seconds, side.stack.url) for side, stepper in sides]
        )
        used = [cpu_seconds(side) - b for (side, _), b in zip(sides, before, strict=True)]
        out = []
        for cell_id, (side, stepper), (step, folder), cpu in zip(
            cells, sides, done, used, strict=True
        ):
            served = completed(folder)
            if row is not None:
                times = StepTimes(self.warmup, seconds, seconds)
                made = step_row(self.run, side, stepper, step, folder, times, duration=seconds)
                if made is not None:
                    made.update(row)
                    self.run.add_row(made)
            out.append(
                Segment(
                    cell_id,
                    rate,
                    step.achieved,
                    step.requests,
                    step.p50,
                    step.p99,
                    step.errors,
                    cpu_ms=1000.0 * cpu / served if served else None,
                    generator_bound=step.generator_bound,
                    thin=step.thin,
                    wall_s=time.monotonic() - t0,
                )
            )
        return out


@contextmanager
def open_live(run: RunFolder, groups: list[list[Study]], warmup: float) -> Iterator[LiveEngine]:
    """Every group's sides started and its Locust open; all stopped on the way out."""
    engine = LiveEngine(run, warmup)
    with Supervisor() as sup:
        steppers: list[Stepper] = []
        try:
            for group in groups:
                for cell in group_cells(run.cfg, group):
                    side = start_side(sup, run, cell, extra_env=same_seed(run.cfg))
                    folder = run.dir / "studies" / group[0].key / cell.cell_id
                    stepper = open_stepper(sup, run, [side], folder, users=group[0].users)
                    steppers.append(stepper)
                    engine.sides[cell.cell_id] = (side, stepper)
            yield engine
        finally:
            for stepper in steppers:
                stepper.close()
