"""Profiling cost in one process: CPU time per request with and without the middleware.

The same target is built twice (without ``PROFILE_DIR``, and with it at the defaults),
driven through Flask's test client, interleaved in ``--rounds`` rounds of
``--requests`` requests per endpoint; the figure is the ratio of thread CPU time per
request, from the least disturbed batch of each side (the minimum: other work on the
machine only ever adds time) and from the median. It leaves out the server and the
network, so the relative cost it states is an upper bound of what a served request
pays; and it is less disturbed by other work on a shared machine than requests/s
(see profiling_overhead.py for that).

    .venv/bin/python benchmarks/profiling_inprocess.py [--target sync] [--rounds 10]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from profiles.middleware import profiler_of  # noqa: E402

ENDPOINTS = ["/json", "/db", "/fortunes", "/cpu"]


def build(target: str, config: dict):
    if target == "test":
        from tests.profiles.profiled_app import create_app
    else:
        create_app = importlib.import_module(f"targets.{target}_app").create_app
    return create_app(config)


def cpu_per_request(client, path: str, n: int) -> float:
    t0 = time.thread_time()
    for _ in range(n):
        client.get(path)
    return (time.thread_time() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="sync")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS))
    args = parser.parse_args()
    endpoints = args.endpoints.split(",")
    with tempfile.TemporaryDirectory(prefix="profiling-inprocess-") as tmp:
        db = f"sqlite:///{tmp}/bench.sqlite3"
        plain = build(args.target, {"DATABASE_URL": db, "SECRET_KEY": "x"})
        profiled = build(
            args.target, {"DATABASE_URL": db, "SECRET_KEY": "x", "PROFILE_DIR": f"{tmp}/profiles"}
        )
        prof = profiler_of(profiled)
        clients = {False: plain.test_client(), True: profiled.test_client()}
        try:
            for e in endpoints:  # warm up: the first 20 profiles per endpoint are spent here
                for c in clients.values():
                    cpu_per_request(c, e, 100)
            per: dict[tuple[str, bool], list[float]] = {
                (e, p): [] for e in endpoints for p in (False, True)
            }
            for rnd in range(args.rounds):
                for e in endpoints:
                    for p in (False, True) if rnd % 2 == 0 else (True, False):
                        per[(e, p)].append(cpu_per_request(clients[p], e, args.requests))
            stats = prof.stats()
        finally:
            prof.sink.stop()
    print(
        f"target {args.target}, in process, {args.rounds} interleaved rounds x "
        f"{args.requests} requests per endpoint and side, default PROFILE_* settings"
    )
    print(
        f"{'endpoint':<12}{'plain CPU/req':>15}{'profiled':>10}{'cost':>8}"
        f"{'median cost':>13}  profiled (rate)"
    )
    worst = 0.0
    for e in endpoints:
        a, b = min(per[(e, False)]), min(per[(e, True)])
        cost = b / a - 1
        med = statistics.median(per[(e, True)]) / statistics.median(per[(e, False)]) - 1
        worst = max(worst, cost)
        s = stats.get(f"GET {e.split('?')[0]}", {})
        share = f"{s.get('profiled')} of {s.get('seen')} (rate now {s.get('rate')})"
        print(
            f"{e:<12}{a * 1e6:>13,.0f}us{b * 1e6:>8,.0f}us{100 * cost:>7.1f}%"
            f"{100 * med:>12.1f}%  {share}"
        )
    print(f"worst cost {100 * worst:.1f}% (goal <= 5%): {'PASS' if worst <= 0.05 else 'FAIL'}")


if __name__ == "__main__":
    main()
