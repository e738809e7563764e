"""Run folders: created once, never reused; files written atomically.

``meta.json`` is written first with status ``running`` and rewritten at the end as
``complete``, ``failed`` or ``interrupted``, so a crashed run is visible and never
half-trusted. ``<out>/latest`` names the newest run folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runfolder.errors import HarnessError, RunFolderError

FORMAT_VERSION = 1
STATUSES = ("running", "complete", "failed", "interrupted")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunFolderError(f"{path} is missing: is this a complete run folder?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(
            f"{path} is not valid JSON ({exc}): the run folder is corrupt"
        ) from None


def create_run_dir(out: Path, name: str) -> Path:
    """A new, empty ``<out>/<UTC timestamp>_<name>`` folder (suffixed if taken)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"--out: cannot create {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise HarnessError(f"--out: {out} is not writable; choose another folder with --out")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        suffix = "" if n == 1 else f"-{n}"
        path = out / f"{stamp}_{name}{suffix}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise HarnessError(f"could not create a new run folder in {out}")


def set_latest(out: Path, run_dir: Path) -> None:
    write_atomic(out / "latest", run_dir.name + "\n")


def resolve_run(ref: str | Path, runs_dir: Path = Path("runs")) -> Path:
    """A run folder from a path, a folder name under ``runs_dir``, or ``latest``.

    Only finds the folder; reading it (and saying what is wrong inside) is the reader's job.
    """
    text = str(ref)
    if text == "latest":
        pointer = runs_dir / "latest"
        try:
            name = pointer.read_text().strip()
        except FileNotFoundError:
            raise RunFolderError(
                f"no {pointer}: there are no runs in {runs_dir} yet; run 'python bench.py' first"
            ) from None
        path = runs_dir / name
        if not name or not path.is_dir():
            raise RunFolderError(
                f"{pointer} names {name!r}, which is not a folder in {runs_dir}: "
                "pass a run folder explicitly (see 'python bench.py list')"
            )
        return path
    path = Path(text)
    if not path.is_dir() and (runs_dir / text).is_dir():
        path = runs_dir / text
    if not path.is_dir():
        raise RunFolderError(
            f"{text}: no such run folder (a path, a name under {runs_dir}, or 'latest'; "
            "see 'python bench.py list')"
        )
    return path


def list_runs(out: Path) -> list[dict[str, Any]]:
    """Every run folder under ``out`` with its status, newest first (unreadable ones flagged)."""
    rows: list[dict[str, Any]] = []
    if not out.is_dir():
        return rows
    for path in sorted(out.iterdir(), reverse=True):
        if not path.is_dir() or not (path / "meta.json").exists():
            continue
        try:
            meta = json.loads((path / "meta.json").read_text())
            rows.append(
                {
                    "name": path.name,
                    "status": meta.get("status", "?"),
                    "created": meta.get("created", ""),
                    "cells": len(meta.get("cells", [])),
                    "profiled": bool(meta.get("profiled")),
                }
            )
        except (OSError, json.JSONDecodeError):
            rows.append(
                {
                    "name": path.name,
                    "status": "corrupt",
                    "created": "",
                    "cells": 0,
                    "profiled": False,
                }
            )
    return rows
