"""Shared pieces of the benchmark scripts: a target stack and wrk, both pinned."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.config import Pinning
from harness.processes import Supervisor, require_executable
from harness.servers import ServerSpec, Stack, start_stack

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@contextmanager
def target_stack(spec: ServerSpec, pinning: Pinning) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="flask-bench-") as tmp, Supervisor() as sup:
        yield start_stack(sup, spec, Path(tmp), db_path=Path(tmp) / "db.sqlite3",
                          cpus=pinning.server_cpus)  # fmt: skip


def run_wrk(url: str, *, connections: int, seconds: int, cpus: tuple[int, ...] | None,
            threads: int = 1, rate: int | None = None) -> dict[str, float]:  # fmt: skip
    """Requests/s and latency percentiles (ms) as wrk reports them."""
    wrk = require_executable("wrk")
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cpus:
        argv = ["taskset", "-c", ",".join(map(str, cpus)), *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    figures = {"rps": rps}
    for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        figures[f"p{pct}"] = float(value) * _UNITS[unit]
    return figures
