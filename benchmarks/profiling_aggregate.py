"""Aggregation speed: 10,000 request profiles into per-endpoint hotspots. Goal: <= 10 s.

Records a few hundred real sessions with the middleware (the test app's sync and
async endpoints, every request profiled), then writes 10,000 sessions to a run
folder by replaying them with varied wall times (2 cells x 2 repetitions x 2 worker
files), and times ``aggregate_run`` (hotspots, tails, HTML, speedscope, folded).

    .venv/bin/python benchmarks/profiling_aggregate.py [--sessions 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from profiles.aggregate import aggregate_run  # noqa: E402
from profiles.middleware import profiler_of  # noqa: E402
from tests.profiles.profiled_app import create_app  # noqa: E402

PATHS = ["/json", "/cpu", "/db", "/fortunes", "/items/1", "/async"]


def record(out: Path, rounds: int) -> dict:
    """Real sessions from the middleware, as one raw document."""
    # one flush at the end: one file with one frame table
    app = create_app({"PROFILE_DIR": str(out), "PROFILE_RATE": 1.0, "PROFILE_FLUSH_INTERVAL": 3600})
    client = app.test_client()
    prof = profiler_of(app)
    try:
        for _ in range(rounds):
            for path in PATHS:
                client.get(path)
        path = prof.sink.flush()
    finally:
        prof.sink.stop()
    return json.loads(path.read_text())


def replay(doc: dict, run: Path, total: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    base = doc["sessions"]
    files = [(f"bench-{c}", r, w) for c in ("a", "b") for r in (0, 1) for w in (101, 102)]
    per_file = total // len(files)
    written = 0
    for i, (cell, rep, pid) in enumerate(files):
        n = per_file if i < len(files) - 1 else total - written
        sessions = []
        for _ in range(n):
            s = dict(rng.choice(base))
            s["wall_ms"] = s["wall_ms"] * rng.lognormvariate(0, 0.4)
            sessions.append(s)
        folder = run / "cells" / cell / f"r{rep}" / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{pid}-00000.json").write_text(
            json.dumps({**doc, "pid": pid, "sessions": sessions})
        )
        written += n
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--record-rounds", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profiling-aggregate-") as tmp:
        doc = record(Path(tmp) / "recorded", args.record_rounds)
        run = Path(tmp) / "run"
        n = replay(doc, run, args.sessions)
        raw_mb = sum(p.stat().st_size for p in run.rglob("*.json")) / 1e6
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            hotspots = aggregate_run(run)
            times.append(time.perf_counter() - t0)
        out = json.loads(hotspots.read_text())
        endpoints = sum(len(c["endpoints"]) for c in out["cells"].values())
        derived_mb = sum(p.stat().st_size for p in (run / "profiles").rglob("*") if p.is_file())
    cells = len(out["cells"])
    print(
        f"recorded {len(doc['sessions'])} real sessions; replayed as {n} sessions "
        f"({raw_mb:.1f} MB raw) in {cells} cells, {endpoints} cell-endpoints"
    )
    print(
        f"aggregate_run: median {statistics.median(times):.2f} s, "
        f"min {min(times):.2f} s, max {max(times):.2f} s over {len(times)} runs "
        f"(goal <= 10 s); derived files {derived_mb / 1e6:.1f} MB"
    )
    print("PASS" if statistics.median(times) <= 10 else "FAIL")


if __name__ == "__main__":
    main()
