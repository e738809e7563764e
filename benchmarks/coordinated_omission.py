"""Coordinated omission: a 20 s open-model run during which the server stalls for 1 s.

The server (gunicorn, one sync worker) is frozen with SIGSTOP for one second in the
middle of the run. The corrected p99 (latency from each request's intended send
time) must reflect the stall (>= 500 ms); the uncorrected one (from the actual send)
does not. The same check runs as tests/e2e/test_open_model.py.

    .venv/bin/python benchmarks/coordinated_omission.py [--rate 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.helpers import run_with_stall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        row = run_with_stall(Path(tmp), rate=args.rate, warmup=2, duration=18, stall_after=8)
    fig = row["endpoints"]["GET /json"]
    c, u = fig["corrected_latency_ms"], fig["latency_ms"]
    om = row["open_model"]
    print(f"open model at {args.rate} req/s for 18 s (+2 s warm-up), server stalled 1 s")
    print(
        f"scheduled {om['scheduled']}, sent {om['sent']}, late {om['late']}, "
        f"dropped {om['dropped']}, achieved {om['achieved_rps']:.1f} req/s"
    )
    for label, lat in (("corrected", c), ("uncorrected", u)):
        print(
            f"{label:12} p50 {lat['p50']:9.3f} ms  p90 {lat['p90']:9.3f} ms  "
            f"p99 {lat['p99']:9.3f} ms  max {lat['max']:9.3f} ms  n={lat['count']}"
        )
    print(
        f"corrected p99 >= 500 ms: {'yes' if c['p99'] >= 500 else 'NO'}; "
        f"uncorrected p99 below half of it: {'yes' if u['p99'] < c['p99'] / 2 else 'NO'}"
    )


if __name__ == "__main__":
    main()
