"""``RunWriter``: the one writer of ``meta.json`` and ``summary.json``.

A run folder's life: created with status ``running`` (so a crash is visible),
rows added as repetitions finish (``summary.json`` rewritten each time, so a run
that dies half-way keeps what it measured), then finished as ``complete``,
``failed`` or ``interrupted``. The engine, the dashboard and the studies all write
through it, so the format has one owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runfolder import across_cells, storage


class RunWriter:
    """meta.json and summary.json of one run folder."""

    def __init__(self, run_dir: Path, meta: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.meta: dict[str, Any] = {
            "format_version": storage.FORMAT_VERSION,
            "status": "running",
            "name": run_dir.name.split("_", 1)[-1],
            "created": storage.utc_now(),
            "finished": None,
            "error": None,
            "commands": [],
            **meta,
        }
        self.rows: list[dict[str, Any]] = []
        self.sections: dict[str, Any] = {}
        self.save_meta()

    @classmethod
    def create(cls, out: Path, name: str, meta: dict[str, Any]) -> RunWriter:
        """A new run folder ``<out>/<UTC time>_<name>``, named by ``<out>/latest``."""
        run_dir = storage.create_run_dir(out.resolve(), name)
        storage.set_latest(out, run_dir)
        return cls(run_dir, {"name": name, **meta})

    def save_meta(self) -> None:
        storage.write_json(self.run_dir / "meta.json", self.meta)

    def add_commands(self, commands: Iterable[list[str]]) -> None:
        """Exact command lines of the processes started, each once, in order."""
        for cmd in commands:
            if cmd not in self.meta["commands"]:
                self.meta["commands"].append(cmd)
        self.save_meta()

    def update_meta(self, **fields: Any) -> None:
        self.meta.update(fields)
        self.save_meta()

    def add_row(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.write_summary()

    def set_section(self, name: str, data: Any) -> None:
        """A summary-level section (``capacity``, ``studies``, ``comparison`` ...)."""
        if name in ("format_version", "rows"):
            raise ValueError(f"{name!r} is not a section name")
        self.sections[name] = data
        self.write_summary()

    def write_summary(self) -> None:
        data: dict[str, Any] = {"format_version": storage.FORMAT_VERSION, "rows": self.rows}
        overhead = across_cells.profiling_overhead(self.rows)
        if overhead:
            data["profiling_overhead"] = overhead
        scaling = across_cells.scaling(self.rows)
        if scaling:
            data["scaling"] = scaling
        data.update(self.sections)
        storage.write_json(self.run_dir / "summary.json", data)

    def finish(self, status: str, error: str | None = None) -> None:
        if status not in storage.STATUSES or status == "running":
            raise ValueError(f"a run finishes complete, failed or interrupted, not {status!r}")
        self.write_summary()
        self.meta.update(status=status, error=error, finished=storage.utc_now())
        self.save_meta()
