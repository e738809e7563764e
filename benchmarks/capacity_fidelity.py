"""Capacity fidelity: the harness's maximum throughput divided by wrk's.

Same target, server and CPU pinning for both; measured interleaved (wrk, harness,
wrk, harness ...) so drift hits both alike. Goal: >= 0.90 on /json, >= 0.95 on
/db and /fortunes. Plain Locust reaches 0.79-0.80 pinned on /json.

    .venv/bin/python benchmarks/capacity_fidelity.py [--seconds 10] [--repeat 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import run_plain_locust, run_wrk, target_stack
from harness.config import RunConfig
from harness.run.engine import run_benchmark
from harness.sections import Pinning
from harness.stack.server_commands import ServerSpec

ENDPOINTS = {"json": "/json", "db": "/db", "fortunes": "/fortunes"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--server", default="gunicorn-sync")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    pinning = Pinning.default()
    spec = ServerSpec("sync", args.server, args.workers, 8)
    print(
        f"sync target on {args.server} x{args.workers}, server CPUs {pinning.server_cpus}, "
        f"generator CPUs {pinning.generator_cpus}, {args.users} connections/users, "
        f"{args.seconds}s each, {args.repeat} interleaved repetitions"
    )
    print(
        f"{'endpoint':10} {'wrk req/s':>10} {'plain Locust':>13} {'ratio':>6} "
        f"{'harness req/s':>14} {'ratio':>6}  goal"
    )
    with tempfile.TemporaryDirectory() as out:
        for scenario, path in ENDPOINTS.items():
            wrk_rps, harness_rps, plain_rps = [], [], []
            for _ in range(args.repeat):
                with target_stack(spec, pinning) as stack:
                    run_wrk(
                        stack.url + path,
                        connections=args.users,
                        seconds=2,
                        cpus=pinning.generator_cpus,
                    )  # warm-up
                    wrk_rps.append(
                        run_wrk(
                            stack.url + path,
                            connections=args.users,
                            seconds=args.seconds,
                            cpus=pinning.generator_cpus,
                        )["rps"]
                    )
                    plain_rps.append(
                        run_plain_locust(
                            stack.url,
                            path,
                            users=args.users,
                            seconds=args.seconds,
                            cpus=pinning.generator_cpus,
                        )
                    )
                cfg = RunConfig.build(
                    targets=("sync",),
                    scenarios=(scenario,),
                    servers=(args.server,),
                    workers=args.workers,
                    users=args.users,
                    warmup=3.0,
                    duration=float(args.seconds),
                    out=Path(out),
                    name=scenario,
                    pinning=pinning,
                )
                outcome = run_benchmark(cfg)
                harness_rps.append(outcome.rows[0]["endpoints"]["ALL"]["rps"])
            wrk_med, h_med = statistics.median(wrk_rps), statistics.median(harness_rps)
            p_med = statistics.median(plain_rps)
            goal = 0.90 if scenario == "json" else 0.95
            print(
                f"{path:10} {wrk_med:>10,.0f} {p_med:>13,.0f} {p_med / wrk_med:>6.2f} "
                f"{h_med:>14,.0f} {h_med / wrk_med:>6.2f}  "
                f">= {goal:.2f} {'met' if h_med / wrk_med >= goal else 'NOT met'}"
            )


if __name__ == "__main__":
    main()
