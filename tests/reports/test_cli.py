"""The report and compare commands through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness.cli.compare import compare_command, report_command
from tests.reports.samples import (
    CORRUPT,
    HALF,
    OPEN,
    PROFILED,
    REG_A,
    REG_B,
    SAME_A,
    SAME_B,
)


@pytest.fixture
def cli() -> click.Group:
    """A group like the harness's main CLI, with the two commands added."""

    @click.group()
    def main() -> None:
        pass

    main.add_command(report_command)
    main.add_command(compare_command)
    return main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_commands_have_names_and_help(cli: click.Group, runner: CliRunner) -> None:
    assert report_command.name == "report" and compare_command.name == "compare"
    for name in ("report", "compare"):
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_report_latest(cli, runner, fresh_run) -> None:
    run = fresh_run(OPEN)  # small: the default sample is covered by test_report.py
    (run.parent / "latest").write_text(f"{run.name}\n")
    result = runner.invoke(cli, ["report", "latest", "--runs-dir", str(run.parent)])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path.name == "report.html" and path.exists()


def test_report_by_name_and_path(cli, runner, runs_dir: Path) -> None:
    for ref in (OPEN, str(runs_dir / OPEN)):
        result = runner.invoke(cli, ["report", ref, "--runs-dir", str(runs_dir)])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == str(runs_dir / OPEN / "report.html")


@pytest.mark.parametrize(
    ("ref", "message"),
    [("missing-run", "no such run folder"), (CORRUPT, "not valid JSON"), (HALF, "half-written")],
)
def test_report_errors_are_one_line(cli, runner, runs_dir: Path, ref: str, message: str) -> None:
    result = runner.invoke(cli, ["report", ref, "--runs-dir", str(runs_dir)])
    assert result.exit_code == 1
    assert message in result.output
    assert result.output.count("\n") == 1  # "Error: ..." on one line
    assert "Traceback" not in result.output


def test_compare_gate_fails_on_regression(cli, runner, runs_dir: Path, tmp_path: Path) -> None:
    args = [
        "compare",
        REG_A,
        REG_B,
        "--runs-dir",
        str(runs_dir),
        "--out",
        str(tmp_path),
        "--fail-on",
        "p99:+10%,rps:-5%",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert "regressed" in result.output
    assert "gate failed" in result.output and "p99:+10%" in result.output
    assert "rps:-5%" in result.output
    html = next(tmp_path.glob("compare-*.html"))
    assert f"Comparison: {html}" in result.output


def test_compare_gate_passes_on_same_distribution(
    cli, runner, runs_dir: Path, tmp_path: Path
) -> None:
    md, js = tmp_path / "gate.md", tmp_path / "gate.json"
    args = [
        "compare",
        SAME_A,
        SAME_B,
        "--runs-dir",
        str(runs_dir),
        "--out",
        str(tmp_path),
        "--fail-on",
        "rps:-10%,p50:+10%",
        "--markdown",
        str(md),
        "--json",
        str(js),
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Gate passed" in result.output
    assert "**passed**" in md.read_text() and "| all endpoints |" in md.read_text()
    data = json.loads(js.read_text())
    assert data["exit_code"] == 0 and data["rows"][0]["rps"]["verdict"] == "same"


def test_compare_thin_p99_is_undecided_exit_3(cli, runner, runs_dir: Path, tmp_path: Path) -> None:
    args = [
        "compare",
        SAME_A,
        SAME_B,
        "--runs-dir",
        str(runs_dir),
        "--out",
        str(tmp_path),
        "--fail-on",
        "p99:+10%",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 3, result.output
    assert "p99 is thin" in result.output and "gate undecided" in result.output
    result = runner.invoke(cli, [*args, "--allow-undecided"])
    assert result.exit_code == 0, result.output


def test_compare_html_defaults_to_runs_dir(cli, runner, runs_dir: Path) -> None:
    result = runner.invoke(cli, ["compare", SAME_A, SAME_B, "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert str(runs_dir / "compare-") in result.output


def test_compare_bad_spec_is_a_usage_error(cli, runner, runs_dir: Path) -> None:
    result = runner.invoke(
        cli, ["compare", SAME_A, SAME_B, "--runs-dir", str(runs_dir), "--fail-on", "p99:10%"]
    )
    assert result.exit_code == 2
    assert "--fail-on" in result.output and "Traceback" not in result.output


def test_compare_needs_two_runs(cli, runner, runs_dir: Path) -> None:
    result = runner.invoke(cli, ["compare", SAME_A, "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2


def test_compare_refuses_profiled_with_unprofiled(
    cli, runner, runs_dir: Path, tmp_path: Path
) -> None:
    base = ["compare", OPEN, PROFILED, "--runs-dir", str(runs_dir), "--out", str(tmp_path)]
    result = runner.invoke(cli, base)
    assert result.exit_code == 2 and "--force" in result.output
    result = runner.invoke(cli, [*base, "--force"])
    assert result.exit_code == 2 and "no cell of the candidate" in result.output, result.output


def test_main_cli_has_both_commands(runner: CliRunner) -> None:
    from harness.cli.main import cli as main_cli

    for name in ("report", "compare"):
        result = runner.invoke(main_cli, [name, "--help"])
        assert result.exit_code == 0, result.output


def test_importing_the_commands_is_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import harness.cli.compare, sys; "
        "print('matplotlib' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_compare_gate_on_named_endpoints(cli, runner, runs_dir: Path, tmp_path: Path) -> None:
    base = ["compare", SAME_A, SAME_B, "--runs-dir", str(runs_dir), "--out", str(tmp_path)]
    js = tmp_path / "gate.json"
    args = [*base, "--fail-on", "rps:-10%", "--gate-endpoint", "ALL", "--json", str(js)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Gate passed: rps:-10% on all endpoints" in result.output
    assert json.loads(js.read_text())["gate_endpoints"] == ["ALL"]
    result = runner.invoke(cli, [*base, "--fail-on", "rps:-10%", "--gate-endpoint", "GET /nope"])
    assert result.exit_code == 2, result.output
    assert "'GET /nope': no endpoint of that name was measured" in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
