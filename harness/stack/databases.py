"""Where each started target keeps its data, for one run: ``Databases`` hands every cell its
database environment (``target_env``): a fresh SQLite file, or a fresh database on the one
PostgreSQL server of the run (``harness.stack.postgres``, started on first need), or on the
existing server of ``--database-url``.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.stack.postgres import (
    Postgres,
    _last_error_line,
    _run_as,
    connect_existing,
    find_binary,
    start_postgres,
)
from harness.stack.processes import Supervisor
from runfolder.errors import ProcessError


def target_env(url: str, scratch: Path, pool: int | None) -> dict[str, str]:
    """What tells a target where its data is: the URL, the pool size, and where the cached
    target's change stamps go (beside a SQLite file; for a server, a per-cell folder)."""
    scratch.mkdir(parents=True, exist_ok=True)
    env = {"FLASK_DATABASE_URL": url, "FLASK_CACHE_STAMPS_PATH": str(scratch / "cache-stamps")}
    if pool is not None:
        env["FLASK_DB_POOL"] = str(pool)
    return env


@dataclass
class Databases:
    """Where every started target keeps its data, for one run (or one ``serve``).

    SQLite: a fresh file per cell under ``root``. PostgreSQL: one server for the whole run
    (started on first need, so a run that never asks for it never starts it), a fresh
    database per cell; or the existing server of ``url``. Leaving the ``with`` block stops
    the server and removes every file.
    """

    kind: str = "sqlite"
    url: str | None = None
    allow_remote: bool = False
    log_dir: Path | None = None
    cpus: tuple[int, ...] | None = None
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="flask-bench-db-")))
    server: Postgres | None = None
    _sup: Supervisor = field(default_factory=Supervisor)

    def __enter__(self) -> Databases:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sup.stop_all()
        self.server = None
        shutil.rmtree(self.root, ignore_errors=True)

    def url_for(self, label: str, kind: str | None = None) -> str:
        """The database URL of one cell (``kind`` overrides the run's, for a study side)."""
        kind = kind or self.kind
        if kind == "sqlite":
            folder = self.root / label
            folder.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{folder / 'bench.sqlite3'}"
        return self.postgres().fresh_database(label)

    def check(self) -> None:
        """Before a run starts: PostgreSQL installed (or the given server answering)."""
        if self.url:
            self.server = connect_existing(self.url, self.allow_remote)
        else:
            find_binary("initdb")
            _run_as()

    def env_for(
        self, label: str, kind: str | None = None, pool: int | None = None
    ) -> dict[str, str]:
        """A started target's environment for one cell: its database and pool."""
        return target_env(self.url_for(label, kind), self.root / label, pool)

    def postgres(self) -> Postgres:
        if self.server is None:
            if self.url:
                self.server = connect_existing(self.url, self.allow_remote)
            else:
                log = (self.log_dir or self.root) / "postgres.log"
                self.server = start_postgres(self._sup, log, cpus=self.cpus)
        return self.server

    def pids(self) -> list[int]:
        return self.server.pids() if self.server else []

    def describe(self) -> dict[str, Any]:
        """meta.json's ``database``: SQLite, or the server's version and settings."""
        if self.server is not None:
            return self.server.describe()
        return {"kind": self.kind}

    def check_alive(self) -> None:
        """Raise when our server died: every later request of the run would fail."""
        child = self.server.child if self.server else None
        if child is not None and not child.alive():
            raise ProcessError(
                f"{child.describe_exit()} during the run: {_last_error_line(child.log_path)}"
            )
