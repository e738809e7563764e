"""``python bench.py capacity``: per cell, the SLO search on a live server, into a run folder.

Each cell's server starts once; one persistent Locust (``harness/stepper.py``) runs every
step of its search. The run folder is a normal one: ``meta.json`` (mode ``capacity``),
``summary.json`` with one row per cell and search, each the figures of its confirmation
step (at the capacity found) plus ``capacity`` = the whole ladder; every step's raw
``recorder.json`` under ``cells/<cell>/r<N>/steps/test-NNN/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.config import RunConfig
from harness.load.workload import Workload, prepare_workload
from harness.run.cells import Cell, plan_cells
from harness.run.engine import (
    Derive,
    Progress,
    RunOutcome,
    cell_database,
    cell_row,
    database_meta,
    databases_for,
    describe_run,
    read_recorder,
    start_cell,
)
from harness.segments.capacity.search import Capacity, SearchPlan, Slo, Step, search
from harness.segments.engine import Stepper
from harness.stack.monitor import CpuMonitor
from harness.stack.processes import Supervisor
from harness.stack.servers import Stack
from runfolder.errors import ConfigError, HarnessError, Interrupted, RunFailed
from runfolder.writer import RunWriter

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
    """A run folder for step-based modes (capacity, suite), written through ``RunWriter``."""

    def __init__(self, cfg: RunConfig, cells: list[Cell], mode: str) -> None:
        self.cfg = cfg
        # before the run folder: PostgreSQL asked for and missing is bad input
        self.databases = databases_for(cfg, cells)
        self.writer = RunWriter.create(cfg.out, cfg.name, describe_run(cfg, cells, mode=mode))
        self.dir = self.writer.run_dir
        self.databases.log_dir = self.dir
        self.report: Path | None = None

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.writer.rows

    def add_row(self, row: dict[str, Any]) -> None:
        self.writer.add_row(row)

    def set_section(self, name: str, data: Any) -> None:
        self.writer.set_section(name, data)

    def section(self, name: str) -> Any:
        return self.writer.sections.get(name)

    @contextmanager
    def running(self, derive: Derive | None = None) -> Iterator[RunFolder]:
        """Ends meta.json as complete / failed / interrupted whatever happens inside."""
        status, error, exit_code = "complete", None, 1
        try:
            yield self
        except KeyboardInterrupt:
            status, error = "interrupted", "interrupted by the user (Ctrl-C)"
        except HarnessError as exc:
            status, error, exit_code = "failed", exc.format_message(), exc.exit_code
        finally:
            self.writer.update_meta(database=database_meta(self.cfg, self.databases))
            self.databases.close()
            self.writer.finish(status, error)
        if derive is not None:
            self.report = derive(self.dir, False)
        if status == "interrupted":
            raise Interrupted(f"interrupted: data so far kept in {self.dir}")
        if status == "failed":
            raise RunFailed(f"{error} (run folder: {self.dir})", exit_code)


def check_open_model(cfg: RunConfig, what: str) -> None:
    from loadtests.catalog import SCENARIOS

    if cfg.load.rate:
        raise ConfigError(f"{what}: --rate is what the search finds; leave it out")
    for sc in cfg.load.scenarios:
        if sc in SCENARIOS and not SCENARIOS[sc].open_model_ok:
            raise ConfigError(
                f"{what}: scenario {sc} keeps per-user sessions and cannot run on the open "
                "model; use an endpoint scenario such as json or db"
            )


def start_side(sup: Supervisor, run: RunFolder, cell: Cell, rep: int = 0) -> Side:
    folder = run.dir / "cells" / cell.cell_id / f"r{rep}"
    folder.mkdir(parents=True)
    db_env = cell_database(run.cfg, cell, run.databases, f"{cell.cell_id}-r{rep}")
    # profiled steps sample from the first request on: the profiler's default of always
    # profiling each endpoint's first 50 requests would slow a probe or a first step
    env = {"FLASK_PROFILE_MIN_PER_ENDPOINT": "0"} if cell.profiled else None
    stack = start_cell(sup, run.cfg, cell, folder, db_env, env)
    run.writer.add_commands(stack.commands)
    workload = prepare_workload(run.cfg, cell, stack, folder, run.dir)
    return Side(cell, stack, folder, workload)


def open_stepper(sup: Supervisor, run: RunFolder, sides: list[Side], folder: Path) -> Stepper:
    users = run.cfg.load.users
    stepper = Stepper(
        sup,
        [s.stack for s in sides],
        sides[0].workload,
        folder,
        users=users,
        cpus=run.cfg.pinning.generator_cpus,
    ).open()
    run.writer.add_commands([stepper.argv])
    return stepper


def step_row(
    run: RunFolder,
    side: Side,
    stepper: Stepper,
    step: Step,
    folder: Path,
    times: StepTimes,
    *,
    duration: float,
) -> dict[str, Any] | None:
    """A summary row from one step's folder, as ``run`` makes it for an open-model cell."""
    recorder = read_recorder(folder)
    if recorder is None:
        return None
    rows = list(stepper.monitor.rows) if stepper.monitor else []
    CpuMonitor(lambda: [], lambda: [], rows=rows).write_csv(
        folder / "cpu.csv", offset=float(recorder["start_unix"])
    )
    cfg = run.cfg.with_(
        rate=step.rate or None, warmup=times.warmup, duration=float(duration) + 1.0, repeat=1
    )
    return cell_row(cfg, side.cell, 0, folder, run.dir, recorder)


def step_function(
    stepper: Stepper, side: Side, times: StepTimes, progress: Progress, folders: list[Path]
) -> Callable[[float, bool], Step]:
    def run_step(rate: float, confirm: bool) -> Step:
        duration = times.confirm if confirm else times.duration
        step, folder = stepper.run(rate, times.warmup, duration, side.stack.url)
        step.confirm = confirm
        folders.append(folder)
        kind = " (confirmation)" if confirm else ""
        progress.message(
            f"  {side.cell.cell_id}: {rate:g} req/s{kind} -> achieved "
            f"{step.achieved:.0f}, p99 {_ms(step.p99)}"
        )
        return step

    return run_step


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def run_capacity(
    cfg: RunConfig,
    slo: Slo,
    plan: SearchPlan,
    times: StepTimes,
    progress: Progress | None = None,
    derive: Derive | None = None,
) -> RunOutcome:
    """The search for every cell (``--repeat`` times, interleaved); always a consistent folder."""
    progress = progress or Progress()
    check_open_model(cfg, "capacity")
    cells = plan_cells(cfg)
    plan = replace(
        plan,
        step_seconds=times.warmup + times.duration + 1.0,
        confirm_seconds=times.warmup + times.confirm + 1.0,
    )
    run = RunFolder(cfg, cells, "capacity")
    with run.running(derive):
        for rep in range(cfg.repeat):
            for index, cell in enumerate(cells):
                progress.message(
                    f"[{index + 1}/{len(cells)}] capacity of {cell.target} on "
                    f"{cell.server}, {cell.scenario} ({slo.text})"
                )
                with Supervisor() as sup:
                    side = start_side(sup, run, cell, rep)
                    stepper = open_stepper(sup, run, [side], side.dir / "steps")
                    try:
                        cap = measure_capacity(run, side, stepper, slo, plan, times, progress, rep)
                    finally:
                        stepper.close()
                progress.message(f"  {cell.cell_id}: {cap.message}")
    return RunOutcome(run.dir, "complete", run.rows, report=run.report)


def measure_capacity(
    run: RunFolder,
    side: Side,
    stepper: Stepper,
    slo: Slo,
    plan: SearchPlan,
    times: StepTimes,
    progress: Progress,
    rep: int = 0,
) -> Capacity:
    """One search on ``side``; its row (the last step's figures + ``capacity``) joins the run."""
    folders: list[Path] = []
    cap = search(
        step_function(stepper, side, times, progress, folders), slo, plan, clock=time.monotonic
    )
    if folders:
        last = cap.steps[-1]
        row = step_row(
            run,
            side,
            stepper,
            last,
            folders[-1],
            times,
            duration=times.confirm if last.confirm else times.duration,
        )
        if row is not None:
            row["repetition"] = rep
            row["capacity"] = cap.to_json()
            run.add_row(row)
    return cap
