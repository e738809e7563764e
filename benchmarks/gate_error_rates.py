"""The gate's error rates: false alarms over A/A pairs, detection of a known slowdown.

Both sides serve the reference ``sync`` app as the user's app (``--app``, two folders);
in the slowdown trials the candidate's ``/cpu`` does 15% more work (its ``n`` raised 15%
by a WSGI wrapper). Both sides serve ``/cpu`` with ``n = --base-n`` (default 100,000, so
the loop, not the request overhead, is most of a request's time). Each pair or trial
is one ``bench.py ab`` with its default gate
(rps:-5%, p50:+5%, p99:+10%, error share) and default stopping rule; the ``--seconds``
and ``--warmup`` of each repetition are the only settings changed, to keep it short.

Prints: the share of gated metrics that said *different* on A/A pairs (goal <= 5%),
the share of slowdown trials with a regression found (goal >= 90%), the
repetitions per side ``ab`` needed on average, and, on the same ``ab`` data, the width
of the paired interval of goodput (all endpoints) against the unpaired one's.

    .venv/bin/python benchmarks/gate_error_rates.py [--pairs 10] [--trials 10] [--seconds 5]
    .venv/bin/python benchmarks/gate_error_rates.py --widths-of runs/<stamp>_ab [...]

``--widths-of`` prints only the width line, for ``ab`` folders already measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

APP = """
from urllib.parse import urlencode

from targets.sync_app import create_app

N = int({base_n} * {slower})
flask_app = create_app({{"SECRET_KEY": "bench"}})


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/cpu":
        environ["QUERY_STRING"] = urlencode({{"n": N}})
    return flask_app(environ, start_response)
"""


def make_app(folder: Path, slower: float, base_n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gateapp.py").write_text(APP.format(slower=slower, base_n=base_n))
    return folder


def run_ab(base: Path, cand: Path, out: Path, args: argparse.Namespace) -> dict:
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
        "--duration",
        f"{args.seconds}s",
        "--warmup",
        f"{args.warmup}s",
        "--max-repeat",
        str(args.max_repeat),
        "--out",
        str(out / "runs"),
        "--json",
        str(js),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=out, timeout=3600, check=False)
    if not js.exists():
        raise SystemExit(f"ab failed (exit {done.returncode}): {done.stderr.strip()[-400:]}")
    data = json.loads(js.read_text())
    run = next((out / "runs").glob("*_ab"))
    rows = json.loads((run / "summary.json").read_text())["rows"]
    data["reps"] = sum(1 for r in rows if r.get("side") == "baseline")
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
    return [(m, row[m]["verdict"]) for row in data["rows"] for m in metrics]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10, help="A/A pairs")
    parser.add_argument("--trials", type=int, default=10, help="slowdown trials")
    parser.add_argument("--seconds", type=int, default=5, help="measured seconds per repetition")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--max-repeat", type=int, default=12)
    parser.add_argument("--slowdown", type=float, default=1.15)
    parser.add_argument("--base-n", type=int, default=100_000, help="/cpu's n on the baseline")
    parser.add_argument(
        "--widths-of", type=Path, nargs="+", default=None, help="ab folders: widths only"
    )
    args = parser.parse_args()
    if args.widths_of:
        print_widths([interval_widths(p) for p in args.widths_of])
        return
    widths: list[tuple[float, float] | None] = []
    with tempfile.TemporaryDirectory(prefix="gate-rates-") as tmp:
        root = Path(tmp)
        plain = make_app(root / "plain", 1.0, args.base_n)
        slow = make_app(root / "slow", args.slowdown, args.base_n)
        aa_verdicts, aa_reps, aa_undecided = [], [], 0
        for i in range(args.pairs):
            data = run_ab(plain, plain, Path(tempfile.mkdtemp(dir=root)), args)
            verdicts = gated(data)
            aa_verdicts += verdicts
            aa_reps.append(data["reps"])
            aa_undecided += data["exit_code"] == 3
            widths.append(data["widths"])
            print(
                f"A/A {i + 1}: exit {data['exit_code']}, {data['reps']} reps, "
                f"{sum(v in ('improved', 'regressed') for _, v in verdicts)} different "
                f"of {len(verdicts)}",
                flush=True,
            )
        found, slow_reps = 0, []
        for i in range(args.trials):
            data = run_ab(plain, slow, Path(tempfile.mkdtemp(dir=root)), args)
            hit = any(v == "regressed" for _, v in gated(data))
            found += hit
            slow_reps.append(data["reps"])
            widths.append(data["widths"])
            print(
                f"slowdown {i + 1}: exit {data['exit_code']}, {data['reps']} reps, "
                f"{'regression found' if hit else 'missed'}",
                flush=True,
            )
    if aa_verdicts:
        false = sum(v in ("improved", "regressed") for _, v in aa_verdicts)
        print(
            f"false alarms: {false}/{len(aa_verdicts)} gated metrics said different "
            f"({100 * false / len(aa_verdicts):.1f}%; goal <= 5%) over {args.pairs} A/A pairs; "
            f"{aa_undecided} pair(s) ended undecided; "
            f"repetitions per side: mean {statistics.mean(aa_reps):.1f}"
        )
    if args.trials:
        print(
            f"detection of /cpu n x{args.slowdown:g}: {found}/{args.trials} trials "
            f"({100 * found / args.trials:.0f}%; goal >= 90%); "
            f"repetitions per side: mean {statistics.mean(slow_reps):.1f}"
        )
    print_widths(widths)


if __name__ == "__main__":
    main()
