"""The suite's live segment engine: every side's server up at once, one Locust per group.

Every side of every study starts once, pinned to the server CPUs (an idle side costs
nothing), and stays up until the suite ends; each group of studies (one workload) gets
one persistent Locust (``harness.segments.engine.Stepper``) that sends each segment to
one side's URL. A segment also reads the side's server processes' CPU time before and
after it: CPU seconds over the requests the test completed is the side's CPU per
request, which no other tenant's load and no queueing inflates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from harness.segments.engine import Stepper
from harness.segments.sides import RunFolder, Side, StepTimes, open_stepper, start_side, step_row
from harness.segments.suite.paired import Segment
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

    def segment(
        self, cell_id: str, rate: float, seconds: float, row: dict[str, Any] | None = None
    ) -> Segment:
        side, stepper = self.sides[cell_id]
        t0 = time.monotonic()
        before = cpu_seconds(side)
        step, folder = stepper.run(rate, self.warmup, seconds, side.stack.url)
        used = cpu_seconds(side) - before
        served = completed(folder)
        if row is not None:
            times = StepTimes(self.warmup, seconds, seconds)
            made = step_row(self.run, side, stepper, step, folder, times, duration=seconds)
            if made is not None:
                made.update(row)
                self.run.add_row(made)
        return Segment(
            cell_id,
            rate,
            step.achieved,
            step.requests,
            step.p50,
            step.p99,
            step.errors,
            cpu_ms=1000.0 * used / served if served else None,
            generator_bound=step.generator_bound,
            thin=step.thin,
            wall_s=time.monotonic() - t0,
        )


@contextmanager
def open_live(run: RunFolder, groups: list[list[Study]], warmup: float) -> Iterator[LiveEngine]:
    """Every group's sides started and its Locust open; all stopped on the way out."""
    engine = LiveEngine(run, warmup)
    with Supervisor() as sup:
        steppers: list[Stepper] = []
        try:
            for group in groups:
                sides = [start_side(sup, run, cell) for cell in group_cells(run.cfg, group)]
                stepper = open_stepper(sup, run, sides, run.dir / "studies" / group[0].key)
                steppers.append(stepper)
                engine.sides.update({s.cell.cell_id: (s, stepper) for s in sides})
            yield engine
        finally:
            for stepper in steppers:
                stepper.close()
