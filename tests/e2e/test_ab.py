"""``bench.py ab`` end to end: two folders of a small Flask app, two git revisions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.helpers import bench, latest_run, load

pytestmark = pytest.mark.e2e

APP = """
import itertools

from flask import Flask, jsonify

app = Flask(__name__)
FAIL_IN_TEN = {fail}  # of every 10 requests, the last FAIL_IN_TEN fail (the first succeeds)
COUNTER = itertools.count()


@app.get("/work")
def work():
    if next(COUNTER) % 10 >= 10 - FAIL_IN_TEN:
        return "fail fast", 500
    return jsonify(total=sum(range(2000)))
"""

SHORT = ["--duration", "3s", "--warmup", "1s", "--users", "4", "--app", "myapp:app"]


def _app(folder: Path, fail: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "myapp.py").write_text(APP.format(fail=fail))
    return folder


def test_ab_two_folders_fail_fast_candidate_fails(workdir: Path, tmp_path: Path) -> None:
    """30% of the candidate's requests answered 500 at once: a regression, exit 1."""
    base, cand = _app(tmp_path / "v1", 0), _app(tmp_path / "v2", 3)
    md, js = tmp_path / "gate.md", tmp_path / "gate.json"
    result = bench(
        [
            "ab",
            *SHORT,
            "--baseline-dir",
            str(base),
            "--candidate-dir",
            str(cand),
            "--max-repeat",
            "1",
            "--fail-on",
            "p50:+5%",
            "--markdown",
            str(md),
            "--json",
            str(js),
        ],
        cwd=workdir,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gate failed" in result.stderr
    run = latest_run(workdir / "runs")
    rows = load(run, "summary.json")["rows"]
    assert {r["side"] for r in rows} == {"baseline", "candidate"}
    data = json.loads(js.read_text())
    assert data["exit_code"] == 1
    assert any(f["metric"] == "errors" for f in data["regressions"])
    errors = data["rows"][0]["errors"]
    assert errors["baseline"] == 0 and 20 < errors["candidate"] < 40
    assert "FAILED" in md.read_text()
    assert (run / "comparison.html").exists() and (run / "comparison.md").exists()
    # the ab folder alone compares its two sides again, with the same verdict
    again = bench(
        ["compare", str(run), "--fail-on", "p50:+5%", "--out", str(tmp_path)],
        cwd=workdir,
        timeout=120,
    )
    assert again.returncode == 1, again.stdout + again.stderr


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def test_ab_two_git_revisions_one_repetition_is_undecided(workdir: Path, tmp_path: Path) -> None:
    """Each revision in a temporary worktree, removed afterwards; 1 repetition: exit 3."""
    repo = _app(tmp_path / "repo", 0)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "myapp.py")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "v1")
    (repo / "myapp.py").write_text(APP.format(fail=0) + "\n# v2\n")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "v2")
    result = bench(
        [
            "ab",
            *SHORT,
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
    assert "gate undecided" in result.stderr and "repetition(s)" in result.stdout
    assert len(_git(repo, "worktree", "list").splitlines()) == 1  # temporary worktrees gone
    run = latest_run(workdir / "runs")
    meta = load(run, "meta.json")
    assert meta["ab"]["baseline"]["rev"] == "main~1" and meta["ab"]["candidate"]["rev"] == "main"
    assert load(run, "comparison.json")["exit_code"] == 3


def test_ab_bad_input_exits_2(workdir: Path, tmp_path: Path) -> None:
    result = bench(["ab", *SHORT, "--baseline-dir", str(tmp_path)], cwd=workdir, timeout=60)
    assert result.returncode == 2 and "must both be given" in result.stderr
    result = bench(
        ["ab", *SHORT, "--app-dir", str(tmp_path), "--baseline-rev", "x", "--candidate-rev", "y"],
        cwd=workdir,
        timeout=60,
    )
    assert result.returncode == 2 and "not inside a git repository" in result.stderr
