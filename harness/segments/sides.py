"""Sides that stay up for the segment-based modes (capacity, the suite, ab).

A side is one cell's stack, started once (``start_side``) and driven by a persistent
Locust (``open_stepper``, ``harness/segments/engine.py``) for as many steps or segments
as the mode needs; ``step_row`` turns one step's folder into a summary row as ``run``
makes it, so reports and comparisons read every mode alike. ``RunFolder`` is the run
lifecycle of these modes (``runfolder/lifecycle.py``: complete / failed / interrupted).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cells import Cell
from harness.config import RunConfig
from harness.load.workload import Workload, prepare_workload
from harness.run.databases import cell_database, database_meta, databases_for
from harness.run.engine import (
    Derive,
    cell_row,
    describe_run,
    read_recorder,
    start_cell,
)
from harness.segments.capacity.search import Step
from harness.segments.engine import Stepper
from harness.stack.monitor import CpuMonitor
from harness.stack.processes import Supervisor
from harness.stack.servers import Stack
from runfolder import figures
from runfolder.lifecycle import lifecycle
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

    def __init__(self, cfg: RunConfig, cells: list[Cell], mode: str, **meta: Any) -> None:
        self.cfg = cfg
        # before the run folder: PostgreSQL asked for and missing is bad input
        self.databases = databases_for(cfg, cells)
        self.writer = RunWriter.create(
            cfg.out, cfg.name, describe_run(cfg, cells, mode=mode, **meta)
        )
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

    def close_databases(self) -> None:
        self.writer.update_meta(database=database_meta(self.cfg, self.databases))
        self.databases.close()

    @contextmanager
    def running(self, derive: Derive | None = None) -> Iterator[RunFolder]:
        """Ends meta.json as complete / failed / interrupted whatever is raised inside."""
        with lifecycle(
            self.writer,
            derive=(lambda d: derive(d, False)) if derive is not None else None,
            cleanup=self.close_databases,
        ) as life:
            yield self
        self.report = life.report


HASH_SEED = "0"


def same_seed(cfg: RunConfig) -> dict[str, str]:
    """Both sides' servers hash strings with one seed (``PYTHONHASHSEED``), unless the user
    set one: with a random seed each, dict and set layouts differ between the two
    processes of the same code, one of the lasting few-percent differences between
    them (``reports/sequential.py``, ``CALL_SHARE``). Used by ``ab`` and the suite."""
    given = {k for k, _ in cfg.subject.env}
    if "PYTHONHASHSEED" in os.environ or "PYTHONHASHSEED" in given:
        return {}
    return {"PYTHONHASHSEED": HASH_SEED}


def start_side(
    sup: Supervisor,
    run: RunFolder,
    cell: Cell,
    rep: int = 0,
    cfg: RunConfig | None = None,
    extra_env: dict[str, str] | None = None,
) -> Side:
    """``cell``'s stack started and verified, its workload ready; ``cfg`` when the side's
    configuration is not the run's (an ``ab`` side's own app folder); ``extra_env`` for
    its server processes."""
    cfg = cfg or run.cfg
    folder = run.dir / "cells" / cell.cell_id / f"r{rep}"
    folder.mkdir(parents=True)
    db_env = cell_database(run.cfg, cell, run.databases, f"{cell.cell_id}-r{rep}")
    # profiled steps sample from the first request on: the profiler's default of always
    # profiling each endpoint's first 50 requests would slow a probe or a first step
    env = dict(extra_env or {})
    if cell.profiled:
        env["FLASK_PROFILE_MIN_PER_ENDPOINT"] = "0"
    stack = start_cell(sup, cfg, cell, folder, db_env, env)
    run.writer.add_commands(stack.commands)
    workload = prepare_workload(cfg, cell, stack, folder, run.dir)
    return Side(cell, stack, folder, workload)


def open_stepper(
    sup: Supervisor,
    run: RunFolder,
    sides: list[Side],
    folder: Path,
    *,
    open_model: bool = True,
    users: int | None = None,
) -> Stepper:
    """A persistent Locust for ``sides``: ``users`` users (default: the run's ``--users``)."""
    users = users or run.cfg.load.users
    stepper = Stepper(
        sup,
        [s.stack for s in sides],
        sides[0].workload,
        folder,
        users=users,
        cpus=run.cfg.pinning.generator_cpus,
        open_model=open_model,
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
    row = cell_row(cfg, side.cell, 0, folder, run.dir, recorder)
    if row is not None and row["generator_saturated"] and not step.generator_bound:
        _busy_with_others(row)
    return row


def _busy_with_others(row: dict[str, Any]) -> None:
    """The generator's CPUs were busy but Locust itself was not (the step's own verdict,
    ``step_from_recorder``): other programs competed for them. Between steps that follow
    each other on one live stack, that hits every side alike, so it is noted, not judged,
    as a capacity step judges it; an open model's shortfall still counts."""
    row["warnings"] = [
        *(w for w in row["warnings"] if not str(w).startswith("generator-bound:")),
        "noted, not judged: " + "; ".join(str(r) for r in row["generator_saturated"]),
    ]
    row["generator_saturated"] = []
    om = row.get("open_model") or {}
    row["generator_bound"] = bool(
        om and om["achieved_rps"] < (1 - figures.OPEN_MODEL_SHORTFALL) * float(om["rate"])
    )
