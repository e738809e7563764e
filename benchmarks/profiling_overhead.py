"""Profiling cost: throughput with and without the middleware, side by side. Goal: >= 0.95.

Two copies of the same target run at once, one with ``PROFILE_DIR`` set (the default
rate, 5% of requests after the first 20 per endpoint) and one without, both pinned to
the server CPU(s); wrk, pinned to the generator CPU(s), loads each endpoint of one and
then of the other, alternating which goes first, ``--repeat`` times. The figure is the
ratio of median requests/s, profiled / unprofiled, per endpoint.

On a machine shared with other work, requests/s moves by more than the 5% being
measured; the server's CPU time per request (rusage of the server's processes over
each wrk run) moves less, so it is printed beside it: cost = its ratio - 1.

    .venv/bin/python benchmarks/profiling_overhead.py [--target sync] [--seconds 5]
        [--repeat 3] [--server gunicorn-sync] [--workers 1] [--connections 16]

``--target test`` uses the small app of tests/profiles (no /fortunes database).
``--rate 0`` is the control: the middleware installed but, after the first 20 requests
per endpoint, profiling nothing; the spread of its ratios is the noise floor of the
machine at that moment, against which the 5% goal has to be read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._common import run_wrk, server_cpu  # noqa: E402
from harness.sections import Pinning  # noqa: E402
from harness.stack.processes import Supervisor  # noqa: E402
from harness.stack.server_commands import ServerSpec  # noqa: E402
from harness.stack.servers import start_stack  # noqa: E402

ENDPOINTS = ["/json", "/db", "/fortunes", "/cpu"]
TEST_APP = "tests.profiles.profiled_app:create_app()"


def count_sessions(folder: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in folder.glob("*.json"):
        for s in json.loads(path.read_text())["sessions"]:
            counts[s["endpoint"]] = counts.get(s["endpoint"], 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="sync", help="a target id, or 'test'")
    parser.add_argument("--server", default="gunicorn-sync")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    args = parser.parse_args()
    endpoints = args.endpoints.split(",")
    pin = Pinning.default()
    if args.target == "test":
        spec = ServerSpec(None, args.server, args.workers, args.threads, app=TEST_APP)
    else:
        spec = ServerSpec(args.target, args.server, args.workers, args.threads)
    rps: dict[tuple[str, bool], list[float]] = {(e, p): [] for e in endpoints for p in (0, 1)}
    cpu_us: dict[tuple[str, bool], list[float]] = {k: [] for k in rps}
    pids: dict[bool, int] = {}
    with tempfile.TemporaryDirectory(prefix="profiling-overhead-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        urls = {}
        for profiled in (False, True):
            sup = stack.enter_context(Supervisor())
            folder = root / ("profiled" if profiled else "plain")
            st = start_stack(
                sup,
                spec,
                folder,
                db_path=folder / "db.sqlite3",
                cpus=pin.server_cpus,
                profile_dir=folder / "profiles" if profiled else None,
                profile_rate=args.rate if profiled else None,
                extra_env={"PYTHONPATH": str(REPO)},
            )
            urls[profiled] = st.url
            pids[profiled] = st.instances[0].pid
        for profiled in (False, True):  # warm up; spends the first 20 profiles per endpoint
            for e in endpoints:
                run_wrk(
                    urls[profiled] + e,
                    connections=args.connections,
                    seconds=args.warmup,
                    cpus=pin.generator_cpus,
                )
        for rep in range(args.repeat):
            for e in endpoints:
                order = (False, True) if rep % 2 == 0 else (True, False)
                for profiled in order:
                    c0 = server_cpu(pids[profiled])
                    fig = run_wrk(
                        urls[profiled] + e,
                        connections=args.connections,
                        seconds=args.seconds,
                        cpus=pin.generator_cpus,
                    )
                    used = server_cpu(pids[profiled]) - c0
                    rps[(e, profiled)].append(fig["rps"])
                    cpu_us[(e, profiled)].append(1e6 * used / (fig["rps"] * args.seconds))
        stack.close()  # SIGTERM: the profiled workers flush their sessions
        sessions = count_sessions(root / "profiled" / "profiles")
    print(
        f"target {args.target}, {args.server} x{args.workers}, server CPUs {pin.server_cpus}, "
        f"wrk CPUs {pin.generator_cpus}, {args.connections} connections, "
        f"{args.repeat} x {args.seconds} s per side, interleaved, rate {args.rate}"
    )
    print(
        f"{'endpoint':<12}{'plain req/s':>12}{'profiled':>10}{'ratio':>7}"
        f"{'plain CPU/req':>15}{'profiled':>10}{'cost':>7}  profiled requests"
    )
    worst = 1.0
    worst_cpu = 0.0
    for e in endpoints:
        a = statistics.median(rps[(e, False)])
        b = statistics.median(rps[(e, True)])
        ratio = b / a if a else float("nan")
        worst = min(worst, ratio)
        label = f"GET {e.split('?')[0]}"
        total = sum(rps[(e, True)]) * args.seconds + args.warmup * b
        n = sessions.get(label, 0)
        ca = statistics.median(cpu_us[(e, False)])
        cb = statistics.median(cpu_us[(e, True)])
        worst_cpu = max(worst_cpu, cb / ca - 1)
        share = f"{n} of ~{total:,.0f} ({100 * n / total:.1f}%)"
        print(
            f"{e:<12}{a:>12,.0f}{b:>10,.0f}{ratio:>7.3f}{ca:>13,.0f}us{cb:>8,.0f}us"
            f"{100 * (cb / ca - 1):>6.1f}%  {share}"
        )
    verdict = "PASS" if worst >= 0.95 else "FAIL"
    verdict_cpu = "PASS" if worst_cpu <= 0.05 else "FAIL"
    print(
        f"worst throughput ratio {worst:.3f} (goal >= 0.95): {verdict}; "
        f"worst CPU-per-request cost {100 * worst_cpu:.1f}% (goal <= 5%): {verdict_cpu}"
    )


if __name__ == "__main__":
    main()
