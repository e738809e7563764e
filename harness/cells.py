"""The cells of a run: what is measured, and in which order.

A cell is one combination of subject, server and scenario (and size, in a scale
sweep); repetitions of all cells are interleaved so drift hits every cell alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.config import TARGETS, RunConfig


@dataclass(frozen=True)
class Cell:
    """One combination measured: a target on a server under a scenario."""

    target: str
    server: str
    scenario: str
    workers: int
    threads: int
    instances: int = 1
    suffix: str = ""
    profiled: bool = False
    scenario_arg: str = ""  # what --scenario said: a name or a locustfile path
    side: str = ""  # "baseline" or "candidate" in an ``ab`` run (harness.segments.ab.plan)
    database: str = ""  # "sqlite" / "postgres" for this cell alone (a study's side); "": the run's
    db_pool: int | None = None  # connections per worker for this cell alone; None: the run's

    @property
    def reference(self) -> bool:
        """A reference target (as opposed to the user's app or an external host)."""
        return self.target in TARGETS and self.server != "external"

    @property
    def cell_id(self) -> str:
        return f"{self.target}-{self.server}-{self.scenario}{self.suffix}".lower()

    def to_json(self, cfg: RunConfig) -> dict[str, Any]:
        return {
            "cell_id": self.cell_id,
            "target": self.target,
            "server": self.server,
            "scenario": self.scenario,
            "workers": self.workers,
            "threads": self.threads,
            "instances": self.instances,
            "database": self.database or cfg.database.database,
            "db_pool": self.db_pool or cfg.database.db_pool,
            "profiled": self.profiled,
            "users": cfg.load.users,
            "rate": cfg.load.rate,
            "repetitions": cfg.repeat,
        }


def plan_cells(cfg: RunConfig) -> list[Cell]:
    """Every cell of the run; a scale sweep adds workers x instances, --overhead pairs."""
    sizes = cfg.servers.sweep or ((cfg.servers.workers, cfg.servers.instances),)
    subjects = [cfg.subject.label] if cfg.subject.label else list(cfg.subject.targets)
    servers = ["external"] if cfg.subject.host else cfg.servers.kinds
    cells = []
    for sc in cfg.load.scenarios:
        label = scenario_label(sc)
        for srv in servers:
            for t in subjects:
                for workers, instances in sizes:
                    suffix = f"-w{workers}-i{instances}" if cfg.servers.sweep else ""
                    base = Cell(
                        t,
                        srv,
                        label,
                        workers,
                        cfg.servers.threads,
                        instances,
                        suffix,
                        cfg.profiling.enabled,
                        scenario_arg=sc,
                    )
                    cells.append(base)
                    if cfg.profiling.overhead:
                        cells[-1] = replace(base, profiled=False)
                        cells.append(replace(base, suffix=suffix + "-profiled", profiled=True))
    return cells


def scenario_label(scenario: str) -> str:
    """A cell's scenario name: the scenario's, or a locustfile's stem."""
    return Path(scenario).stem if scenario.endswith(".py") else scenario


def interleave(cells: list[Cell], repeat: int) -> list[tuple[Cell, int]]:
    """A B C A B C ...: drift over time hits every cell alike."""
    return [(cell, rep) for rep in range(repeat) for cell in cells]
