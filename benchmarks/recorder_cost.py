"""Recorder cost: generator CPU time per request with the recorder / plain Locust.

Both drive the same upstream service (aiohttp, /delay?ms=0) with the same users for
the same time, pinned to the same CPU, interleaved. CPU time comes from the Locust
process's rusage (os.wait4), requests from Locust's own CSV. Goal: <= 1.15.

    .venv/bin/python benchmarks/recorder_cost.py [--seconds 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.load.loadgen import locust_executable  # noqa: E402
from harness.sections import Pinning  # noqa: E402
from harness.stack.processes import Supervisor  # noqa: E402
from harness.stack.servers import start_upstream  # noqa: E402


def run_locust(
    locustfile: str, host: str, seconds: int, users: int, cpus, out: Path, extra: list[str]
) -> tuple[float, int]:
    argv = [
        locust_executable(),
        "-f",
        str(REPO / "benchmarks" / "locustfiles" / locustfile),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--host",
        host,
        "--csv",
        str(out / "l"),
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
        "--delay-ms",
        "0",
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    proc = subprocess.Popen(
        argv, env=env, cwd=out, preexec_fn=pin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with (out / "l_stats.csv").open() as fh:
        total = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    return usage.ru_utime + usage.ru_stime, int(total["Request Count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--users", type=int, default=16)
    args = parser.parse_args()
    pin = Pinning.default()
    plain, recorded = [], []
    with tempfile.TemporaryDirectory() as tmp, Supervisor() as sup:
        upstream = start_upstream(sup, Path(tmp), pin.server_cpus)
        for rep in range(args.repeat):
            for name, sink in (("delay_plain.py", plain), ("delay_recorded.py", recorded)):
                out = Path(tmp) / f"{name}-{rep}"
                out.mkdir()
                extra = ["--bench-out", str(out)] if "recorded" in name else []
                cpu, n = run_locust(
                    name,
                    upstream.url,
                    args.seconds,
                    args.users,  # type: ignore[attr-defined]
                    pin.generator_cpus,
                    out,
                    extra,
                )
                sink.append(cpu / n * 1e6)
                print(
                    f"  {name:18} rep {rep + 1}: {n:>7,} requests, {cpu:6.2f}s CPU, "
                    f"{cpu / n * 1e6:6.1f} µs CPU/request"
                )
    ratio = statistics.median(recorded) / statistics.median(plain)
    print(
        f"generator CPU per request: plain {statistics.median(plain):.1f} µs, "
        f"with recorder {statistics.median(recorded):.1f} µs, ratio {ratio:.3f} "
        f"(goal <= 1.15: {'met' if ratio <= 1.15 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
