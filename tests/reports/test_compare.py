"""Comparisons: a known 20% regression is flagged, same-distribution runs are not."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from reports.compare import compare_runs as compare
from reports.comparison import IMPROVED, REGRESSED, SAME, UNDECIDED, Threshold
from reports.gate import parse_fail_on
from reports.render.html import write_html
from reports.render.terminal import render_terminal
from reports.stats import compare_values
from runfolder.errors import ConfigError
from runfolder.reader import ALL
from tests.reports.samples import (
    DEFAULT,
    HOSTILE,
    OPEN,
    PROFILED,
    PROFILED_SLOW,
    REG_A,
    REG_B,
    SAME_A,
    SAME_B,
    SINGLE_A,
    SINGLE_B,
)


def compare_runs(dirs: list[Path], out: Path, **kw: Any) -> Any:
    """compare_runs, with the HTML page written into ``out`` as the CLI does."""
    cmp = compare(dirs, **kw)
    cmp.html_path = write_html(cmp, out)
    return cmp


def _row(cmp, endpoint: str = ALL):
    return next(r for r in cmp.rows if r.endpoint == endpoint)


def test_known_regression_is_flagged(runs_dir: Path, tmp_path: Path) -> None:
    cmp = compare_runs([runs_dir / REG_A, runs_dir / REG_B], tmp_path)
    row = _row(cmp)
    assert row.changes["rps"].verdict == REGRESSED
    assert row.changes["p50"].verdict == REGRESSED
    # the samples' p99 rests on fewer than 10 requests above it: thin, so never judged
    assert row.changes["p99"].verdict == UNDECIDED
    assert "p99 is thin" in row.changes["p99"].why()
    assert row.changes["rps"].change_pct == pytest.approx(-100 / 6, abs=3)  # 1/1.2 - 1
    assert row.changes["p50"].change_pct == pytest.approx(20, abs=6)  # median of 5 noisy
    assert row.changes["rps"].n_baseline == row.changes["rps"].n_candidate == 5
    assert cmp.html_path and cmp.html_path.parent == tmp_path
    assert cmp.html_path.name.startswith("compare-")
    assert not cmp.violations  # no gate given


def test_regression_fails_the_gate(runs_dir: Path, tmp_path: Path) -> None:
    cmp = compare_runs(
        [runs_dir / REG_A, runs_dir / REG_B], tmp_path, fail_on="p99:+10%,rps:-5%,errors:>0.1%"
    )
    crossed = {(v.gate, v.endpoint) for v in cmp.violations}
    assert ("rps:-5%", "all endpoints") in crossed
    assert ("p99:+10%", "all endpoints") in {(u.gate, u.endpoint) for u in cmp.undecided}
    assert cmp.exit_code() == 1  # a regression wins over undecided
    assert not any(t.startswith("errors") for t, _ in crossed)
    html = cmp.html_path.read_text()
    assert "Gate failed" in html and "regressed" in html


def test_same_distribution_is_not_flagged(runs_dir: Path, tmp_path: Path) -> None:
    cmp = compare_runs(
        [runs_dir / SAME_A, runs_dir / SAME_B], tmp_path, fail_on="p99:+10%,rps:-5%,p50:+5%"
    )
    verdicts = {c.verdict for r in cmp.rows for c in r.changes.values()}
    assert REGRESSED not in verdicts and IMPROVED not in verdicts
    assert SAME in verdicts
    assert not cmp.violations


def test_single_repetition_is_undecided_exit_3(runs_dir: Path, tmp_path: Path) -> None:
    cmp = compare_runs([runs_dir / SINGLE_A, runs_dir / SINGLE_B], tmp_path, fail_on="p99:+10%")
    row = _row(cmp)
    assert {c.verdict for m, c in row.changes.items() if m != "errors"} == {UNDECIDED}
    assert row.changes["p50"].change_pct > 15  # the difference is shown, not judged
    assert "1 repetition(s)" in row.changes["p99"].why()
    assert not cmp.violations and cmp.undecided
    assert cmp.exit_code() == 3 and cmp.exit_code(allow_undecided=True) == 0


def test_errors_gate_is_absolute(runs_dir: Path, tmp_path: Path) -> None:
    cmp = compare_runs([runs_dir / DEFAULT, runs_dir / DEFAULT], tmp_path, fail_on="errors:>0.1%")
    failing = {v.endpoint for v in cmp.violations if v.gate == "errors:>0.1%"}
    assert "POST /login" in failing and "GET /items" not in failing


def test_profiled_and_unprofiled_are_not_mixed(runs_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--force"):
        compare_runs([runs_dir / OPEN, runs_dir / PROFILED], tmp_path)
    with pytest.raises(ConfigError, match="no cell of the candidate"):  # past the --force check
        compare_runs([runs_dir / OPEN, runs_dir / PROFILED], tmp_path, force=True)


def test_profiled_runs_show_function_changes(runs_dir: Path, tmp_path: Path) -> None:
    cmp = compare_runs([runs_dir / PROFILED, runs_dir / PROFILED_SLOW], tmp_path)
    diff = cmp.profile_diffs[PROFILED_SLOW]
    assert diff, "no profile diff"
    assert any("fetch_world" in json.dumps(d) or "render_template" in json.dumps(d) for d in diff)
    assert "Functions whose time per request changed most" in cmp.html_path.read_text()


def test_environment_differences_warn(runs_dir: Path, tmp_path: Path, fresh_run) -> None:
    cand = fresh_run(SAME_B)
    meta = json.loads((cand / "meta.json").read_text())
    meta["machine"]["cpu_model"] = "AMD EPYC"
    meta["packages"]["flask"] = "3.2.0"
    meta["config"]["users"] = 40
    (cand / "meta.json").write_text(json.dumps(meta))
    cmp = compare_runs([runs_dir / SAME_A, cand], tmp_path)
    text = " ".join(cmp.warnings)
    assert "different machine" in text and "cpu_model" in text
    assert "flask '3.1.3' → '3.2.0'" in text
    assert "configuration differs: users 20 → 40" in text


def test_unmatched_cells_are_bad_input(runs_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no cell of the candidate") as info:
        compare_runs([runs_dir / DEFAULT, runs_dir / SAME_A], tmp_path)
    assert info.value.exit_code == 2


def test_comparison_html_escapes_run_strings(runs_dir: Path, tmp_path: Path) -> None:
    cmp = compare_runs([runs_dir / HOSTILE, runs_dir / HOSTILE], tmp_path)
    html = cmp.html_path.read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<script" not in html


def test_terminal_table(runs_dir: Path, tmp_path: Path) -> None:
    from rich.console import Console

    cmp = compare_runs([runs_dir / REG_A, runs_dir / REG_B], tmp_path, fail_on="rps:-5%")
    console = Console(record=True, width=160)
    render_terminal(cmp, console)
    out = console.export_text()
    assert "regressed" in out and "all endpoints" in out and "gate failed" in out


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("p99:+10%", [Threshold("p99", "+", 10.0)]),
        (
            "p99:+10%, rps:-5%,errors:>0.1%",
            [
                Threshold("p99", "+", 10.0),
                Threshold("rps", "-", 5.0),
                Threshold("errors", ">", 0.1),
            ],
        ),
        ("p99.9:+25.5%", [Threshold("p99.9", "+", 25.5)]),
        (None, []),
    ],
)
def test_fail_on_parses(spec, expected) -> None:
    assert parse_fail_on(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "p99",
        "p99:10%",
        "p99:+10",
        "p98:+10%",
        "errors:+1%",
        "rps:>5%",
        "p99:+10%,",
        "p99:+10%,p99:+20%",
        "p99:+0%",
        "p99 : +10%",
        "latency:+10%",
    ],
)
def test_fail_on_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ConfigError, match="--fail-on"):
        parse_fail_on(spec)


def test_statistics_detect_20_percent_and_stay_quiet_on_noise() -> None:
    """The method's error rates on simulated repetitions (3% run-to-run noise)."""
    rng = random.Random(7)

    def reps(center: float, n: int = 6) -> list[float]:
        return [center * rng.lognormvariate(0, 0.03) for _ in range(n)]

    trials = 200
    false = sum(
        compare_values("p99", reps(10), reps(10)).verdict in (IMPROVED, REGRESSED)
        for _ in range(trials)
    )
    found = sum(
        compare_values("p99", reps(10), reps(12)).verdict == REGRESSED for _ in range(trials)
    )
    same = sum(compare_values("p99", reps(10), reps(10)).verdict == SAME for _ in range(trials))
    assert false / trials < 0.02
    assert found / trials > 0.9
    assert same / trials > 0.5
    # throughput up is an improvement (5 v 5 can reach p <= 0.01)
    assert (
        compare_values("rps", [100, 101, 99, 100, 102], [120, 121, 119, 118, 122]).verdict
        == IMPROVED
    )
    # significant but inside the practical threshold, and the interval too: same
    assert (
        compare_values(
            "rps", [100, 100.2, 99.8, 100.1, 99.9], [102, 102.2, 101.8, 102.1, 101.9]
        ).verdict
        == SAME
    )
    # 3 v 3 cannot reach p <= 0.01: a clear 20% shift is undecided, never same
    assert compare_values("rps", [100, 101, 99], [120, 121, 119]).verdict == UNDECIDED
    assert compare_values("p50", [1.0], [2.0]).verdict == UNDECIDED
    assert compare_values("p50", [1.0], [1.0]).verdict == UNDECIDED  # one repetition: not same


def test_several_candidates_against_one_baseline(runs_dir: Path, tmp_path: Path) -> None:
    cmp = compare_runs(
        [runs_dir / REG_A, runs_dir / SAME_A, runs_dir / REG_B], tmp_path, fail_on="rps:-5%"
    )
    assert {r.candidate for r in cmp.rows} == {SAME_A, REG_B}
    assert {v.candidate for v in cmp.violations if v.metric == "rps"} == {REG_B}
    html = cmp.html_path.read_text()
    assert html.count("<h2>") >= 4  # runs, two candidates, method


def test_the_reports_package_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    heavy = "{'pandas', 'matplotlib', 'scipy'}"
    code = f"import reports, reports.gate, sys; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
