"""``report`` and ``compare`` as click commands; the harness adds them to its CLI group.

cli.add_command(report_command)
cli.add_command(compare_command)
"""

from __future__ import annotations

from pathlib import Path

import click

from runfolder.errors import HarnessError

RUNS_DIR = Path("runs")


class GateFailed(HarnessError):
    """The comparison crossed a ``--fail-on`` threshold; exit code 1 fails the CI job."""

    exit_code = 1


runs_dir_option = click.option(
    "--runs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=RUNS_DIR,
    show_default=True,
    help="Where run folders live (for run names and 'latest').",
)


@click.command("report")
@click.argument("run")
@runs_dir_option
def report_command(run: str, runs_dir: Path) -> None:
    """Build RUN's self-contained HTML report (RUN: a run folder, a name under --runs-dir,
    or 'latest') and print its path."""
    from reports.report import render_report
    from runfolder.storage import resolve_run

    path = render_report(resolve_run(run, runs_dir))
    click.echo(str(path))


@click.command("compare")
@click.argument("runs", nargs=-1, required=True)
@click.option(
    "--fail-on",
    metavar="SPEC",
    help="CI gate, e.g. 'p99:+10%,rps:-5%,errors:>0.1%': exit 1 when a significant change "
    "crosses a threshold (errors: the candidate's error rate).",
)
@click.option("--force", is_flag=True, help="Compare profiled with unprofiled runs anyway.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the comparison HTML (default: --runs-dir).",
)
@runs_dir_option
def compare_command(
    runs: tuple[str, ...], fail_on: str | None, force: bool, out: Path | None, runs_dir: Path
) -> None:
    """Compare runs: the first is the baseline (A B [C ...]). Prints a table per candidate
    and writes an HTML comparison; changes count only when significant over repetitions."""
    from rich.console import Console

    from reports.compare import compare_runs
    from reports.gate import parse_fail_on
    from runfolder.storage import resolve_run

    parse_fail_on(fail_on)  # a bad spec fails before any work
    if len(runs) < 2:
        raise click.UsageError("compare needs at least two runs: BASELINE CANDIDATE [...]")
    dirs = [resolve_run(r, runs_dir) for r in runs]
    comparison = compare_runs(dirs, out or runs_dir, fail_on=fail_on, force=force)
    console = Console(soft_wrap=False)
    comparison.render_terminal(console)
    click.echo(f"Comparison: {comparison.html_path}")
    if comparison.violations:
        crossed = sorted({str(v.threshold) for v in comparison.violations})
        raise GateFailed(
            f"gate failed: {len(comparison.violations)} significant change(s) crossed "
            f"{', '.join(crossed)} (listed above)"
        )
