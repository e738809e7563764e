"""``report`` and ``compare`` as click commands; the harness adds them to its CLI group.

cli.add_command(report_command)
cli.add_command(compare_command)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


class GateUndecided(HarnessError):
    """A gated metric could not be decided; exit code 3 (``--allow-undecided`` passes)."""

    exit_code = 3


def gate_options(func: Any) -> Any:
    """The gate and CI-output options shared by ``compare`` and ``ab``."""
    for option in reversed(
        (
            click.option(
                "--fail-on",
                metavar="SPEC",
                default=None,
                help="CI gate, e.g. 'p99:+10%,rps:-5%,errors:>0.1%': exit 1 on a regression "
                "of a named metric, 3 when one is undecided; an error share rising by more "
                "than 0.1 percentage points always fails.",
            ),
            click.option(
                "--gate-endpoint",
                "gate_endpoint",
                metavar="ENDPOINT",
                multiple=True,
                help="Gate only this endpoint, as the comparison names it ('GET /items'), or "
                "'all': every endpoint merged (repeatable). Default: each endpoint and all "
                "merged. The others are still compared and shown.",
            ),
            click.option(
                "--allow-undecided",
                is_flag=True,
                help="Exit 0 instead of 3 when a gated metric is undecided.",
            ),
            click.option(
                "--markdown",
                "markdown_path",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="Write the verdict table as Markdown (CI job summary).",
            ),
            click.option(
                "--json",
                "json_path",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="Write the verdicts as JSON.",
            ),
        )
    ):
        func = option(func)
    return func


def gate_endpoints(names: tuple[str, ...]) -> tuple[str, ...]:
    """``--gate-endpoint`` values as the comparison's rows name them ('all' is ``ALL``)."""
    from runfolder.figures import ALL

    return tuple(dict.fromkeys(ALL if n.strip().lower() == "all" else n.strip() for n in names))


def finish_gate(
    comparison: Any,
    markdown_path: Path | None,
    json_path: Path | None,
    allow_undecided: bool,
    more: str = "measure more repetitions (--repeat, or 'bench.py ab')",
) -> None:
    """Print the verdicts, write the CI files, and exit the way the gate says (``more``:
    what would decide an undecided gate)."""
    from rich.console import Console

    from reports.render import write_outputs
    from reports.render.terminal import render_terminal

    render_terminal(comparison, Console(soft_wrap=False))
    click.echo(f"Comparison: {comparison.html_path}")
    write_outputs(comparison, markdown_path, json_path, allow_undecided)
    code = comparison.exit_code(allow_undecided)
    if code == 1:
        raise GateFailed(
            f"gate failed: {len(comparison.violations)} regression(s) on gated "
            "metrics (listed above)"
        )
    if code == 3:
        raise GateUndecided(
            f"gate undecided: {len(comparison.undecided)} gated metric(s) neither same nor "
            f"different (listed above); {more}, or pass --allow-undecided"
        )


@click.command("compare")
@click.argument("runs", nargs=-1, required=True)
@gate_options
@click.option("--force", is_flag=True, help="Compare profiled with unprofiled runs anyway.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the comparison HTML (default: --runs-dir).",
)
@runs_dir_option
def compare_command(
    runs: tuple[str, ...],
    fail_on: str | None,
    gate_endpoint: tuple[str, ...],
    allow_undecided: bool,
    markdown_path: Path | None,
    json_path: Path | None,
    force: bool,
    out: Path | None,
    runs_dir: Path,
) -> None:
    """Compare runs: the first is the baseline (A B [C ...]), or one 'ab' run folder.

    Per endpoint and metric: improved, regressed, same or undecided. With --fail-on it is
    a CI gate: exit 0 all same or improved, 1 a regression, 3 undecided, 2 bad input."""
    from reports.compare import compare_runs
    from reports.gate import parse_fail_on
    from reports.render.html import write_html
    from runfolder.storage import resolve_run

    parse_fail_on(fail_on)  # a bad spec fails before any work
    dirs = [resolve_run(r, runs_dir) for r in runs]
    comparison = compare_runs(
        dirs, fail_on=fail_on, force=force, gate_endpoints=gate_endpoints(gate_endpoint)
    )
    comparison.html_path = write_html(comparison, out or runs_dir)
    finish_gate(comparison, markdown_path, json_path, allow_undecided)
