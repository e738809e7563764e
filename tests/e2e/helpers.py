"""Helpers for end-to-end tests: run bench.py as a user would, as a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def bench(
    args: list[str], cwd: Path, timeout: float = 240, **kw: Any
) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, str(REPO / "bench.py"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kw,
    )  # fmt: skip


def latest_run(out: Path) -> Path:
    return out / (out / "latest").read_text().strip()


def load(run_dir: Path, name: str) -> Any:
    return json.loads((run_dir / name).read_text())
