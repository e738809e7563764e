"""``python bench.py capacity``: per cell, the SLO search on a live server, into a run folder.

Each cell's server starts once; one persistent Locust (``harness/stepper.py``) runs every
step of its search. The run folder is a normal one: ``meta.json`` (mode ``capacity``),
``summary.json`` with one row per cell and search, each the figures of its confirmation
step (at the capacity found) plus ``capacity`` = the whole ladder; every step's raw
``recorder.json`` under ``cells/<cell>/r<N>/steps/test-NNN/``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness import storage
from harness.capacity import Capacity, SearchPlan, Slo, Step, search
from harness.config import RunConfig
from harness.engine import (
    REPO,
    Cell,
    Progress,
    RunOutcome,
    Workload,
    _Meta,
    build_derived,
    cell_row,
    plan_cells,
    prepare_workload,
    start_cell,
    write_summary,
)
from harness.errors import ConfigError, HarnessError, Interrupted
from harness.machine import environment
from harness.monitor import CpuMonitor
from harness.processes import Supervisor
from harness.servers import Stack
from harness.stepper import Stepper

CONNECTIONS = 64  # open-model connections (Locust users) when --users is not given


@dataclass(frozen=True)
class StepTimes:
    warmup: float = 1.0
    duration: float = 2.0
    confirm: float = 5.0


@dataclass
class Side:
    """One cell started for steps: its stack, its folder, the workload Locust runs."""

    cell: Cell
    stack: Stack
    dir: Path
    workload: Workload


class RunFolder:
    """A run folder for step-based modes (capacity, suite): meta, rows, summary sections."""

    def __init__(self, cfg: RunConfig, cells: list[Cell], mode: str) -> None:
        self.cfg = cfg
        self.dir = storage.create_run_dir(cfg.out.resolve(), cfg.name)
        storage.set_latest(cfg.out, self.dir)
        self.meta = _Meta(self.dir, {
            "format_version": storage.FORMAT_VERSION, "status": "running", "mode": mode,
            "name": cfg.name, "created": storage.utc_now(), "finished": None, "error": None,
            "profiled": cfg.profile, "overhead": False, **environment(REPO),
            "pinning": cfg.pinning.to_json(), "config": cfg.to_json(), "commands": [],
            "cells": [c.to_json(cfg) for c in cells],
        })  # fmt: skip
        self.rows: list[dict[str, Any]] = []
        self.sections: dict[str, Any] = {}
        self.db_root = Path(tempfile.mkdtemp(prefix="flask-bench-db-"))

    def add_row(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.save()

    def save(self) -> None:
        write_summary(self.dir, self.rows)
        if self.sections:
            data = storage.read_json(self.dir / "summary.json")
            storage.write_json(self.dir / "summary.json", {**data, **self.sections})

    @contextmanager
    def running(self, progress: Progress) -> Iterator[RunFolder]:
        """Ends meta.json as complete / failed / interrupted whatever happens inside."""
        status, error, exit_code = "complete", None, 1
        try:
            yield self
        except KeyboardInterrupt:
            status, error = "interrupted", "interrupted by the user (Ctrl-C)"
        except HarnessError as exc:
            status, error, exit_code = "failed", exc.format_message(), exc.exit_code
        finally:
            shutil.rmtree(self.db_root, ignore_errors=True)
            self.save()
            self.meta.data.update(status=status, error=error, finished=storage.utc_now())
            self.meta.save()
        build_derived(self.dir, self.cfg.profile, progress)
        if status == "interrupted":
            raise Interrupted(f"interrupted: data so far kept in {self.dir}")
        if status == "failed":
            failure = HarnessError(f"{error} (run folder: {self.dir})")
            failure.exit_code = exit_code
            raise failure


def check_open_model(cfg: RunConfig, what: str) -> None:
    from loadtests.catalog import SCENARIOS

    if cfg.rate:
        raise ConfigError(f"{what}: --rate is what the search finds; leave it out")
    for sc in cfg.scenarios:
        if sc in SCENARIOS and not SCENARIOS[sc].open_model_ok:
            raise ConfigError(
                f"{what}: scenario {sc} keeps per-user sessions and cannot run on the open "
                "model; use an endpoint scenario such as json or db"
            )


def start_side(sup: Supervisor, run: RunFolder, cell: Cell, rep: int = 0) -> Side:
    folder = run.dir / "cells" / cell.cell_id / f"r{rep}"
    folder.mkdir(parents=True)
    db = run.db_root / f"{cell.cell_id}-r{rep}"
    db.mkdir(parents=True, exist_ok=True)
    stack = start_cell(sup, run.cfg, cell, folder, db / "bench.sqlite3")
    run.meta.add_commands(stack.commands)
    workload = prepare_workload(run.cfg, cell, stack, folder, run.dir)
    return Side(cell, stack, folder, workload)


def open_stepper(sup: Supervisor, run: RunFolder, sides: list[Side], folder: Path) -> Stepper:
    users = run.cfg.users
    stepper = Stepper(sup, [s.stack for s in sides], sides[0].workload, folder, users=users,
                      cpus=run.cfg.pinning.generator_cpus).open()  # fmt: skip
    run.meta.add_commands([stepper.argv])
    return stepper


def step_row(run: RunFolder, side: Side, stepper: Stepper, step: Step, folder: Path,
             times: StepTimes, *, duration: float) -> dict[str, Any] | None:  # fmt: skip
    """A summary row from one step's folder, as ``run`` makes it for an open-model cell."""
    from harness.engine import read_recorder

    recorder = read_recorder(folder)
    if recorder is None:
        return None
    rows = list(stepper.monitor.rows) if stepper.monitor else []
    CpuMonitor(lambda: [], lambda: [], rows=rows).write_csv(
        folder / "cpu.csv", offset=float(recorder["start_unix"])
    )
    cfg = replace(run.cfg, rate=step.rate, warmup=times.warmup, duration=float(duration) + 1.0,
                  repeat=1)  # fmt: skip
    return cell_row(cfg, side.cell, 0, folder, run.dir, recorder)


def step_function(stepper: Stepper, side: Side, times: StepTimes, progress: Progress,
                  folders: list[Path]) -> Callable[[float, bool], Step]:  # fmt: skip
    def run_step(rate: float, confirm: bool) -> Step:
        duration = times.confirm if confirm else times.duration
        step, folder = stepper.run(rate, times.warmup, duration, side.stack.url)
        step.confirm = confirm
        folders.append(folder)
        kind = " (confirmation)" if confirm else ""
        progress.message(f"  {side.cell.cell_id}: {rate:g} req/s{kind} -> achieved "
                         f"{step.achieved:.0f}, p99 {_ms(step.p99)}")  # fmt: skip
        return step

    return run_step


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def run_capacity(cfg: RunConfig, slo: Slo, plan: SearchPlan, times: StepTimes,
                 progress: Progress | None = None) -> RunOutcome:  # fmt: skip
    """The search for every cell (``--repeat`` times, interleaved); always a consistent folder."""
    progress = progress or Progress()
    check_open_model(cfg, "capacity")
    cells = plan_cells(cfg)
    plan = replace(plan, step_seconds=times.warmup + times.duration + 1.0,
                   confirm_seconds=times.warmup + times.confirm + 1.0)  # fmt: skip
    run = RunFolder(cfg, cells, "capacity")
    with run.running(progress):
        for rep in range(cfg.repeat):
            for index, cell in enumerate(cells):
                progress.message(f"[{index + 1}/{len(cells)}] capacity of {cell.target} on "
                                 f"{cell.server}, {cell.scenario} ({slo.text})")  # fmt: skip
                with Supervisor() as sup:
                    side = start_side(sup, run, cell, rep)
                    stepper = open_stepper(sup, run, [side], side.dir / "steps")
                    try:
                        cap = measure_capacity(run, side, stepper, slo, plan, times, progress, rep)
                    finally:
                        stepper.close()
                progress.message(f"  {cell.cell_id}: {cap.message}")
    return RunOutcome(run.dir, "complete", run.rows)


def measure_capacity(run: RunFolder, side: Side, stepper: Stepper, slo: Slo, plan: SearchPlan,
                     times: StepTimes, progress: Progress, rep: int = 0) -> Capacity:  # fmt: skip
    """One search on ``side``; its row (the last step's figures + ``capacity``) joins the run."""
    folders: list[Path] = []
    cap = search(step_function(stepper, side, times, progress, folders), slo, plan,
                 clock=time.monotonic)  # fmt: skip
    if folders:
        last = cap.steps[-1]
        row = step_row(run, side, stepper, last, folders[-1], times,
                       duration=times.confirm if last.confirm else times.duration)  # fmt: skip
        if row is not None:
            row["repetition"] = rep
            row["capacity"] = cap.to_json()
            run.add_row(row)
    return cap
