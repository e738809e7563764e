"""Capacity under an SLO beside wrk's saturated throughput, same server and pinning.

For /json, /db and /queries on the sync target: wrk (closed loop, every connection
always busy) gives the most the server answers per second; the capacity search gives
the most it sustains on a fixed schedule with the corrected p99 within the SLO. The
capacity must stay below wrk's figure; how far below is the price of the SLO.

    .venv/bin/python benchmarks/capacity_vs_wrk.py [--slo p99:50ms] [--wrk-seconds 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import run_wrk
from harness.cells import Cell
from harness.config import RunConfig
from harness.load.workload import prepare_workload
from harness.run.engine import start_cell
from harness.sections import Pinning
from harness.segments.capacity.search import SearchPlan, Slo, Step, search
from harness.segments.engine import Stepper
from harness.stack.processes import Supervisor

ENDPOINTS = {"json": "/json", "db": "/db", "queries": "/queries?queries=20"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slo", default="p99:50ms,errors:0.1%")
    parser.add_argument("--server", default="gunicorn-gthread")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--max-time", type=float, default=60.0)
    args = parser.parse_args()
    slo = Slo.parse(args.slo)
    pinning = Pinning.default()
    print(
        f"sync target on {args.server} x{args.workers}, server CPUs {pinning.server_cpus}, "
        f"generator CPUs {pinning.generator_cpus} (wrk and Locust alike), "
        f"{args.connections} connections, SLO {slo.text}"
    )
    print(
        f"{'endpoint':20} {'wrk req/s':>10} {'capacity':>9} {'cap/wrk':>8} {'bracket':>12} "
        f"{'steps':>5} {'time':>5}  result"
    )
    for scenario, path in ENDPOINTS.items():
        cfg = RunConfig.build(
            targets=("sync",),
            scenarios=(scenario,),
            servers=(args.server,),
            workers=args.workers,
            users=args.connections,
            pinning=pinning,
        )
        cell = Cell("sync", args.server, scenario, args.workers, 8, scenario_arg=scenario)
        with tempfile.TemporaryDirectory(prefix="flask-bench-") as tmp, Supervisor() as sup:
            folder = Path(tmp)
            stack = start_cell(sup, cfg, cell, folder, folder / "db.sqlite3")
            workload = prepare_workload(cfg, cell, stack, folder, folder)
            url = stack.url + path
            run_wrk(url, connections=args.connections, seconds=2, cpus=pinning.generator_cpus)
            wrk = run_wrk(
                url,
                connections=args.connections,
                seconds=args.wrk_seconds,
                cpus=pinning.generator_cpus,
            )["rps"]
            stepper = Stepper(
                sup,
                [stack],
                workload,
                folder / "steps",
                users=args.connections,
                cpus=pinning.generator_cpus,
            ).open()
            started = time.monotonic()
            try:

                def run_step(rate: float, confirm: bool, st: Stepper = stepper) -> Step:
                    return st.run(rate, 1.0, 5.0 if confirm else 2.0)[0]

                cap = search(
                    run_step,
                    slo,
                    SearchPlan(start=50, max_time=args.max_time),
                    clock=time.monotonic,
                )
            finally:
                stepper.close()
            took = time.monotonic() - started
        low, high = cap.bracket
        bracket = f"{low:.0f}-{high:.0f}" if high else f">={low:.0f}"
        rate = f"{cap.rate:.0f}" if cap.rate is not None else "-"
        ratio = f"{cap.rate / wrk:.2f}" if cap.rate is not None else "-"
        print(
            f"{path:20} {wrk:>10.0f} {rate:>9} {ratio:>8} {bracket:>12} {len(cap.steps):>5} "
            f"{took:>4.0f}s  {cap.outcome}: {cap.message}",
            flush=True,
        )


if __name__ == "__main__":
    main()
