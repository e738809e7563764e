"""The gate's error rates and wall times: ``bench.py ab`` with its defaults, as CI runs it.

Both sides serve the reference ``sync`` app as the user's app (``--app``, two folders)
on ``/cpu`` (the scenario's ``n`` = 10,000); in the slowdown trials every request of the
candidate does more work: a wrapper inside the Server-Timing middleware measures the
request's own CPU (the thread CPU clock) and, before the response starts, runs the same
loop until x1.05 or x1.30 of it is spent. The request thread's CPU, the gated ``cpu`` of
the endpoint, then rises by that factor; goodput, p50 and the server processes' CPU per
request (the "all endpoints" row, which includes gunicorn's own work) by less. Raising
``/cpu``'s ``n`` by 5% instead adds only ~3.7% to a request (routing and JSON are the
rest), and a wrapper outside the middleware is not in its ``cpu`` at all.
Each A/A pair or trial is one ``bench.py ab`` with ab's defaults (gate, segments,
stopping rule, --max-repeat, --max-time); its wall time is counted from the command's
start to its exit, servers included: what a CI job waits for.

Prints, per run, its exit code, pairs and wall time; then: the share of gated metrics
that said *different* on A/A runs (goal <= 5%), the share of A/A runs that exited 0
(goal >= 80%), per slowdown the trials that found it (exit 1; goal >= 9 of 10), and the
median wall times (goals: A/A and x1.05 <= 3 min, x1.30 <= 60 s). Run it on a quiet
machine; the figures of a loaded one say how loaded it was.

    .venv/bin/python benchmarks/gate_error_rates.py [--pairs 10] [--trials 10]
        [--slowdowns 1.05,1.30]
    .venv/bin/python benchmarks/gate_error_rates.py --widths-of runs/<stamp>_ab [...]

The last line compares, on the same ``ab`` data, the width of the paired interval of
goodput (all endpoints) with the unpaired one's; ``--widths-of`` prints only that line,
for ``ab`` folders already measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

APP = """
import time

from profiles.timing import EXTENSION_KEY
from targets.common.workload import cpu_work
from targets.sync_app import create_app

SLOWER = {slower}
app = create_app({{"SECRET_KEY": "bench"}})
timing = app.extensions[EXTENSION_KEY]  # the Server-Timing middleware
inner = timing.app  # the Flask app inside it


def more_work(environ, start_response):
    # before the response starts: the same loop /cpu runs, until SLOWER x the request's
    # own CPU so far is spent (the middleware reads the thread's CPU at start_response)
    t0 = time.thread_time()

    def start_later(status, headers, *exc):
        goal = t0 + (time.thread_time() - t0) * SLOWER
        while time.thread_time() < goal:
            cpu_work(200)
        return start_response(status, headers, *exc)

    return inner(environ, start_later)


timing.app = more_work if SLOWER > 1 else inner
"""


def make_app(folder: Path, slower: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gateapp.py").write_text(APP.format(slower=slower))
    return folder


def run_ab(base: Path, cand: Path, out: Path) -> dict:
    """One ``bench.py ab`` with its defaults; its verdicts, pairs and wall time."""
    js = out / "verdicts.json"
    argv = [
        sys.executable,
        str(REPO / "bench.py"),
        "ab",
        "--app",
        "gateapp:app",
        "--scenario",
        "cpu",
        "--baseline-dir",
        str(base),
        "--candidate-dir",
        str(cand),
        "--out",
        str(out / "runs"),
        "--json",
        str(js),
    ]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=out, timeout=3600, check=False)
    wall = time.monotonic() - started
    if not js.exists():
        raise SystemExit(f"ab failed (exit {done.returncode}): {done.stderr.strip()[-400:]}")
    data = json.loads(js.read_text())
    run = next((out / "runs").glob("*_ab"))
    rows = json.loads((run / "summary.json").read_text())["rows"]
    data["pairs"] = len({r["repetition"] for r in rows if r.get("side") == "baseline"})
    data["wall_s"] = wall
    data["exit"] = done.returncode
    data["widths"] = interval_widths(run)
    return data


def interval_widths(run_dir: Path) -> tuple[float, float] | None:
    """(paired, unpaired) widths in percentage points of goodput's interval, all
    endpoints, on one ``ab`` folder's rows; None where either has no finite interval."""
    sys.path.insert(0, str(REPO))
    from reports.compare import compare_loaded
    from reports.comparison import split_sides
    from runfolder.figures import ALL
    from runfolder.reader import load_run

    base, cand = split_sides(load_run(run_dir))
    out = []
    for unpaired in (False, True):
        cmp = compare_loaded(base, [cand], [], unpaired=unpaired)
        c = next(r for r in cmp.rows if r.endpoint == ALL).changes["rps"]
        if c.ci_low is None or c.ci_high is None:
            return None
        out.append(c.ci_high - c.ci_low)
    return out[0], out[1]


def print_widths(widths: list[tuple[float, float] | None]) -> None:
    """The paired interval's width against the unpaired one's, on the same ab data."""
    both = [w for w in widths if w is not None]
    if not both:
        print("interval widths: no ab run had an interval on both tests")
        return
    paired = statistics.median(w[0] for w in both)
    unpaired = statistics.median(w[1] for w in both)
    print(
        f"goodput interval width, same ab data, median of {len(both)} run(s): paired "
        f"{paired:.1f}pp (always-valid t-mixture sequence) vs unpaired {unpaired:.1f}pp "
        f"(95% bootstrap of the ratio of medians, valid at one look only): "
        f"{unpaired / paired if paired else float('inf'):.1f}x narrower paired"
    )


def gated(data: dict) -> list[tuple[str, str]]:
    """(metric, verdict) of every gated metric of every endpoint."""
    metrics = [g.split(":")[0] for g in data["gate"]] + ["errors"]
    return [(m, row[m]["verdict"]) for row in data["rows"] for m in metrics if m in row]


def line(kind: str, i: int, data: dict, extra: str) -> None:
    print(
        f"{kind} {i + 1}: exit {data['exit']}, {data['pairs']} pairs, "
        f"{data['wall_s']:.0f}s, {extra}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10, help="A/A runs")
    parser.add_argument("--trials", type=int, default=10, help="runs per slowdown")
    parser.add_argument(
        "--slowdowns", default="1.05,1.30", help="CPU per request factors of the candidate"
    )
    parser.add_argument(
        "--widths-of", type=Path, nargs="+", default=None, help="ab folders: widths only"
    )
    args = parser.parse_args()
    if args.widths_of:
        print_widths([interval_widths(p) for p in args.widths_of])
        return
    slowdowns = [float(x) for x in args.slowdowns.split(",") if x.strip()]
    with tempfile.TemporaryDirectory(prefix="gate-rates-") as tmp:
        root = Path(tmp)
        plain = make_app(root / "plain", 1.0)
        aa_verdicts: list[tuple[str, str]] = []
        aa_runs: list[dict] = []
        for i in range(args.pairs):
            data = run_ab(plain, plain, Path(tempfile.mkdtemp(dir=root)))
            verdicts = gated(data)
            aa_verdicts += verdicts
            aa_runs.append(data)
            different = sum(v in ("improved", "regressed") for _, v in verdicts)
            line("A/A", i, data, f"{different} different of {len(verdicts)}")
        found: dict[float, list[dict]] = {}
        for factor in slowdowns:
            slow = make_app(root / f"slow-{factor:g}", factor)
            found[factor] = []
            for i in range(args.trials):
                data = run_ab(plain, slow, Path(tempfile.mkdtemp(dir=root)))
                data["hit"] = data["exit"] == 1
                found[factor].append(data)
                line(f"/cpu x{factor:g}", i, data, "found" if data["hit"] else "missed")
    if aa_runs:
        false = sum(v in ("improved", "regressed") for _, v in aa_verdicts)
        passed = sum(d["exit"] == 0 for d in aa_runs)
        print(
            f"A/A: {false}/{len(aa_verdicts)} gated metrics said different "
            f"({100 * false / max(1, len(aa_verdicts)):.1f}%; goal <= 5%); "
            f"{passed}/{len(aa_runs)} runs exited 0 ({100 * passed / len(aa_runs):.0f}%; "
            f"goal >= 80%); pairs median {statistics.median(d['pairs'] for d in aa_runs):g}; "
            f"wall time median {statistics.median(d['wall_s'] for d in aa_runs):.0f}s "
            "(goal <= 180s)"
        )
    for factor, runs in found.items():
        if not runs:
            continue
        hits = sum(d["hit"] for d in runs)
        goal = "60s" if factor >= 1.3 else "180s"
        print(
            f"/cpu x{factor:g}: found (exit 1) in {hits}/{len(runs)} trials; "
            f"pairs median {statistics.median(d['pairs'] for d in runs):g}; "
            f"wall time median {statistics.median(d['wall_s'] for d in runs):.0f}s "
            f"(goal <= {goal})"
        )
    print_widths([d["widths"] for d in [*aa_runs, *(d for r in found.values() for d in r)]])


if __name__ == "__main__":
    main()
