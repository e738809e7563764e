"""``python bench.py capacity``: per cell, the SLO search on a live server, into a run folder.

Each cell's server starts once; one persistent Locust (``harness/segments/engine.py``)
runs every step of its search (``search.py``). The run folder is a normal one:
``meta.json`` (mode ``capacity``), ``summary.json`` with one row per cell and search, each
the figures of its confirmation step (at the capacity found) plus ``capacity`` = the whole
ladder; every step's raw ``recorder.json`` under ``cells/<cell>/r<N>/steps/test-NNN/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from harness.cells import plan_cells
from harness.config import RunConfig
from harness.run.engine import Derive, Progress, RunOutcome
from harness.segments.capacity.search import Capacity, SearchPlan, Slo, Step, search
from harness.segments.engine import Stepper
from harness.segments.sides import (
    RunFolder,
    Side,
    StepTimes,
    open_stepper,
    start_side,
    step_row,
)
from harness.stack.processes import Supervisor
from runfolder.errors import ConfigError


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
