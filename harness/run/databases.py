"""Each run's databases, for the engine and the segment modes alike: checked before the
run folder exists (PostgreSQL asked for and missing is bad input), a fresh database per
cell, and what meta.json says of them."""

from __future__ import annotations

from typing import Any

from harness.cells import Cell
from harness.config import RunConfig
from harness.stack.databases import Databases


def databases_for(cfg: RunConfig, cells: list[Cell]) -> Databases:
    """The run's databases, checked: PostgreSQL asked for and missing is a one-line error
    before anything starts."""
    db = cfg.database
    databases = Databases(
        db.database,
        db.database_url,
        allow_remote=cfg.subject.allow_remote,
        cpus=cfg.pinning.server_cpus,
    )
    kinds = {db.database, *(c.database for c in cells if c.database)}
    if "postgres" in kinds and any(c.reference for c in cells):
        databases.check()
    return databases


def database_meta(cfg: RunConfig, databases: Databases) -> dict[str, Any]:
    """meta.json's ``database``: the kind, the pool per worker, the server's version and
    settings when one was used."""
    return {**databases.describe(), "db_pool": cfg.database.db_pool}


def cell_database(cfg: RunConfig, cell: Cell, databases: Databases, label: str) -> dict[str, str]:
    """The environment that gives a cell its own fresh database (none for a --host)."""
    if cfg.subject.host:
        return {}
    kind = (cell.database or cfg.database.database) if cell.reference else "sqlite"
    pool = cell.db_pool or cfg.database.db_pool
    return databases.env_for(label, kind, pool)
