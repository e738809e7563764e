"""Shared pieces of the benchmark scripts: a target stack and wrk, both pinned."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from harness.sections import Pinning
from harness.stack.processes import Supervisor, require_executable
from harness.stack.server_commands import ServerSpec
from harness.stack.servers import Stack, start_stack

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@contextmanager
def target_stack(spec: ServerSpec, pinning: Pinning) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="flask-bench-") as tmp, Supervisor() as sup:
        yield start_stack(
            sup, spec, Path(tmp), db_path=Path(tmp) / "db.sqlite3", cpus=pinning.server_cpus
        )


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by a server process and its workers."""
    import psutil

    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    total = 0.0
    for proc in procs:
        with suppress(psutil.NoSuchProcess):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    cpus: tuple[int, ...] | None,
    threads: int = 1,
    rate: int | None = None,
) -> dict[str, float]:
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


def run_plain_locust(
    url: str, path: str, *, users: int, seconds: int, cpus: tuple[int, ...] | None
) -> float:
    """Requests/s of plain Locust (no recorder, no checks) over ``seconds`` after 2 s of ramp."""
    import csv
    import os
    import sys

    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            str(Path(sys.executable).parent / "locust"),
            "-f",
            str(repo / "benchmarks" / "locustfiles" / "path_plain.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds + 2}s",
            "--host",
            url,
            "--path",
            path,
            "--csv",
            f"{tmp}/l",
            "--csv-full-history",
            "--only-summary",
            "--loglevel",
            "WARNING",
        ]
        if cpus:
            argv = ["taskset", "-c", ",".join(map(str, cpus)), *argv]
        subprocess.run(
            argv,
            capture_output=True,
            timeout=seconds + 60,
            cwd=tmp,
            env={**os.environ, "PYTHONPATH": str(repo)},
        )
        with open(f"{tmp}/l_stats_history.csv") as fh:
            rows = [r for r in csv.DictReader(fh) if r["Name"] == "Aggregated"]
        # steady part: from 2 s in, total requests over elapsed time
        t0 = int(rows[0]["Timestamp"])
        steady = [r for r in rows if int(r["Timestamp"]) >= t0 + 2]
        first, last = steady[0], steady[-1]
        elapsed = int(last["Timestamp"]) - int(first["Timestamp"])
        done = int(last["Total Request Count"]) - int(first["Total Request Count"])
        return done / elapsed if elapsed else 0.0
