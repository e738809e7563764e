"""Latency accuracy: the harness's p50 against wrk's on an endpoint with a fixed delay.

The upstream service answers /delay?ms=20 after 20 ms. Under light load (2 users or
connections) wrk and the harness each measure it; goal: the harness's p50 within
2% of wrk's, reported with at least 10 µs resolution (Locust's own: 1 ms).

    .venv/bin/python benchmarks/latency_accuracy.py [--delay-ms 20] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._common import run_wrk  # noqa: E402
from harness.config import RunConfig  # noqa: E402
from harness.run.engine import run_benchmark  # noqa: E402
from harness.sections import Pinning  # noqa: E402
from harness.stack.processes import Supervisor  # noqa: E402
from harness.stack.servers import start_upstream  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=2)
    args = parser.parse_args()
    pin = Pinning.default()
    with tempfile.TemporaryDirectory() as tmp, Supervisor() as sup:
        upstream = start_upstream(sup, Path(tmp), pin.server_cpus)
        url = upstream.url  # type: ignore[attr-defined]
        wrk = run_wrk(
            f"{url}/delay?ms={args.delay_ms}",
            connections=args.users,
            seconds=args.seconds,
            cpus=pin.generator_cpus,
        )
        locustfile = REPO / "benchmarks" / "locustfiles" / "delay_recorded.py"
        cfg = RunConfig.build(
            targets=(),
            host=url,
            scenarios=(str(locustfile),),
            users=args.users,
            warmup=2.0,
            duration=float(args.seconds),
            out=Path(tmp) / "runs",
            name="latency",
            pinning=pin,
        )
        outcome = run_benchmark(cfg)
        row = outcome.rows[0]
        lat = row["endpoints"]["GET /delay"]["latency_ms"]
        meta = json.loads((outcome.run_dir / "meta.json").read_text())
    assert meta["status"] == "complete"
    diff = abs(lat["p50"] - wrk["p50"]) / wrk["p50"]
    print(f"/delay?ms={args.delay_ms}, {args.users} users/connections, {args.seconds}s")
    print(
        f"wrk      p50 {wrk['p50']:.3f} ms  p90 {wrk.get('p90', 0):.3f} ms  p99 "
        f"{wrk.get('p99', 0):.3f} ms"
    )
    print(
        f"harness  p50 {lat['p50']:.3f} ms  p90 {lat['p90']:.3f} ms  p99 {lat['p99']:.3f} ms "
        f"({lat['count']:,} samples)"
    )
    print(f"p50 difference {100 * diff:.2f}% (goal <= 2%: {'met' if diff <= 0.02 else 'NOT met'})")


if __name__ == "__main__":
    main()
