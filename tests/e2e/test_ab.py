"""``bench.py ab`` end to end: two folders of a small Flask app, two git revisions.

One real ``ab`` run (module-scoped) on two folders whose candidate does 30% more CPU work
per request: every test reads what it measured.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reports.gate import DEFAULT_FAIL_ON
from tests.e2e.helpers import bench, latest_run, load

pytestmark = pytest.mark.e2e

APP = """
from flask import Flask, jsonify

app = Flask(__name__)
N = {n}  # the loop is most of a request's CPU time


@app.get("/work")
def work():
    return jsonify(total=sum(i * i for i in range(N)))
"""

BASE_N = 40_000
# few-second segments; at most 12 pairs or 3 minutes, whichever comes first
SHORT = ["--app", "myapp:app", "--max-repeat", "12", "--max-time", "3m"]


def _app(folder: Path, n: int = BASE_N) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "myapp.py").write_text(APP.format(n=n))
    return folder


class Ab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.js = root / "gate.json"
        base, cand = _app(root / "v1"), _app(root / "v2", int(BASE_N * 1.3))
        self.result = bench(
            [
                "ab",
                *SHORT,
                "--baseline-dir",
                str(base),
                "--candidate-dir",
                str(cand),
                "--seed",
                "11",
                "--json",
                str(self.js),
                "--out",
                str(root / "runs"),
            ],
            cwd=root,
            timeout=400,
        )
        self.run = latest_run(root / "runs")
        self.rows: list[dict[str, Any]] = load(self.run, "summary.json")["rows"]
        self.meta: dict[str, Any] = load(self.run, "meta.json")


@pytest.fixture(scope="module")
def ab(tmp_path_factory: pytest.TempPathFactory) -> Ab:
    return Ab(tmp_path_factory.mktemp("ab"))


def test_thirty_percent_more_cpu_is_a_regression(ab: Ab) -> None:
    out = ab.result.stdout + ab.result.stderr
    assert ab.result.returncode == 1, out[-3000:]
    assert "gate failed" in ab.result.stderr
    data = json.loads(ab.js.read_text())
    assert data["exit_code"] == 1
    regressed = {f["metric"] for f in data["regressions"]}
    # 30% more CPU per request: seen in the CPU per request, and often in rps and p50 too
    assert regressed & {"cpu", "rps", "p50"}, data["regressions"]
    for name in ("comparison.html", "comparison.md", "comparison.json", "report.html"):
        assert (ab.run / name).exists(), name
    assert ab.meta["status"] == "complete" and "ab_stopped" in ab.meta


def test_each_segment_is_a_row_of_its_pair(ab: Ab) -> None:
    pairs = sorted({r["repetition"] for r in ab.rows})
    assert pairs == list(range(len(pairs))) and len(pairs) >= 3
    for rep in pairs:
        pair = [r for r in ab.rows if r["repetition"] == rep]
        assert sorted(r["side"] for r in pair) == ["baseline", "candidate"]
        (order,) = {r["order"] for r in pair}
        assert order in ("AB", "BA")
        # both segments of a pair ran at the same time, over the same measured seconds
        starts = [
            json.loads((ab.run / r["dir"] / "recorder.json").read_text())["start_unix"]
            for r in pair
        ]
        assert abs(starts[0] - starts[1]) < 0.5, starts
        assert pair[0]["steady_window"] == pair[1]["steady_window"]
    # the same figures as any run's row: goodput, corrected latencies, server CPU
    total = ab.rows[0]["endpoints"]["ALL"]
    assert total["requests"] > 0 and total["latency_ms"]["p50"] > 0
    base = [r["endpoints"]["ALL"]["rps"] for r in ab.rows if r["side"] == "baseline"]
    cand = [r["endpoints"]["ALL"]["rps"] for r in ab.rows if r["side"] == "candidate"]
    assert sorted(base)[len(base) // 2] > sorted(cand)[len(cand) // 2]


def test_order_is_randomized_from_the_seed_and_recorded(ab: Ab) -> None:
    from harness.segments.ab.schedule import pair_orders

    assert ab.meta["ab"]["seed"] == 11
    orders = [r["order"] for r in ab.rows if r["side"] == "baseline"]
    expected = [o for o, _ in zip(pair_orders(11), orders, strict=False)]
    assert orders == expected


def test_servers_started_once_per_side(ab: Ab) -> None:
    servers = [c for c in ab.meta["commands"] if Path(c[0]).name == "gunicorn"]
    assert len(servers) == 2, servers


def test_the_folder_alone_compares_again_with_the_same_verdict(ab: Ab) -> None:
    gate = ["--fail-on", DEFAULT_FAIL_ON]  # ab's default gate
    again = bench(["compare", str(ab.run), *gate, "--out", str(ab.root)], cwd=ab.root, timeout=120)
    assert again.returncode == 1, again.stdout + again.stderr


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def test_ab_two_git_revisions_one_pair_is_undecided(workdir: Path, tmp_path: Path) -> None:
    """Each revision in a temporary worktree, removed afterwards; 1 pair: exit 3."""
    repo = _app(tmp_path / "repo")
    who = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, *who, "add", "myapp.py")
    _git(repo, *who, "commit", "-qm", "v1")
    (repo / "myapp.py").write_text(APP.format(n=BASE_N) + "\n# v2\n")
    _git(repo, *who, "commit", "-qam", "v2")
    result = bench(
        [
            "ab",
            "--users",
            "4",
            "--app",
            "myapp:app",
            "--segment",
            "1s",
            "--app-dir",
            str(repo),
            "--baseline-rev",
            "main~1",
            "--candidate-rev",
            "main",
            "--max-repeat",
            "1",
        ],
        cwd=workdir,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "gate undecided" in result.stderr and "1 pair(s)" in result.stdout
    assert len(_git(repo, "worktree", "list").splitlines()) == 1  # temporary worktrees gone
    run = latest_run(workdir / "runs")
    meta = load(run, "meta.json")
    assert meta["ab"]["baseline"]["rev"] == "main~1" and meta["ab"]["candidate"]["rev"] == "main"
    assert load(run, "comparison.json")["exit_code"] == 3


def test_ab_bad_input_exits_2(workdir: Path, tmp_path: Path) -> None:
    result = bench(["ab", "--baseline-dir", str(tmp_path)], cwd=workdir, timeout=60)
    assert result.returncode == 2 and "must both be given" in result.stderr
