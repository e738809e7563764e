from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.main import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def commands() -> list[str]:
    return sorted(cli.commands)


@pytest.mark.parametrize("name", commands())
def test_every_command_has_help_and_is_in_readme(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert f"bench.py {name}" in README, f"README does not mention 'bench.py {name}'"


def test_expected_commands_exist() -> None:
    assert {"run", "serve", "list", "profile", "scale", "worker", "dashboard"} <= set(cli.commands)


def test_run_options_cover_the_issue() -> None:
    result = CliRunner().invoke(cli, ["run", "--help"])
    for flag in (
        "--target",
        "--scenario",
        "--server",
        "--workers",
        "--threads",
        "--users",
        "--spawn-rate",
        "--rate",
        "--duration",
        "--warmup",
        "--repeat",
        "--processes",
        "--out",
        "--name",
        "--app",
        "--app-dir",
        "--host",
        "--instances",
    ):
        assert flag in result.output


def test_list_shows_catalogue_and_no_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["list", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for word in ("sync", "async", "cached", "uncached", "browse", "gunicorn-gevent", "No runs"):
        assert word in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--users", "0"], "--users must be > 0"),
        (["run", "--duration", "soon"], "not a duration"),
        (["run", "--target", "sync", "--app", "x:app"], "--target cannot be combined"),
        (["run", "--host", "http://10.1.2.3:80"], "not a loopback address"),
        (["run", "--host", "not a url"], "is not a URL"),
        (["run", "--scenario", "missing.py"], "does not exist"),
        (["run", "--scenario", "routes"], "give --app"),
        (["run", "--app", "bad app"], "MODULE:OBJECT"),
        (["serve", "--target", "sync", "--app", "x:app"], "--target cannot be combined"),
        (["run", "--target", "nope"], "--target"),
        (["run", "--scenario", "nope"], "--scenario"),
        (["run", "--duration", "3x"], "'3x' is not a duration"),
        (["run", "--users", "-1"], "--users must be > 0"),
        (["run", "--server", "apache"], "--server"),
        (["run", "--server-cpus", "0", "--generator-cpus", "0"], "disjoint"),
        (["run", "--rate", "50", "--scenario", "browse"], "open model"),
        (["run", "--bogus-flag"], "No such option"),
        (["scale", "--workers", "1,x"], "--workers"),
        (["worker", "--master", "127.0.0.1:notaport"], "--master"),
    ],
)
def test_bad_flags_are_config_errors(
    args: list[str], needle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args, standalone_mode=True)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    assert not (tmp_path / "runs").exists()  # bad input leaves no run folder


def test_report_of_a_missing_folder_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["report", "/nonexistent/run"])
    assert result.exit_code != 0
    assert "no such run folder" in result.output


def test_help_imports_no_numeric_library() -> None:
    """`python bench.py --help` (and every command's option parsing) loads no numpy, scipy,
    pandas or matplotlib: they are loaded by what measures and reports."""
    import subprocess
    import sys

    code = (
        "import runpy, sys; sys.argv = ['bench.py', '--help']\n"
        "try:\n    runpy.run_path('bench.py', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted({'numpy', 'scipy', 'pandas', 'matplotlib'} & set(sys.modules)))"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
