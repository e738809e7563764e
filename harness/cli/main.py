"""Command line: a thin click layer over the harness functions.

Every command validates its flags into a ``RunConfig`` (or raises ``ConfigError``)
and calls one library function. ``HarnessError`` subclasses are click exceptions,
so they print as one ``Error:`` line with a non-zero exit code. Options are declared
once, in ``harness.cli.options``; what commands print is in ``harness.cli.console``.
``run``, ``profile`` and ``list`` are here; every other command is in its own module
(``serve``, ``scale``, ``worker``, ``compare``, ``ab``, ``capacity``, ``suite``) and
registered below with ``cli.add_command``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from harness.cli.ab import ab_command
from harness.cli.compare import compare_command, report_command
from harness.cli.configure import config_from_options
from harness.cli.console import console, execute_run, stdout
from harness.cli.options import run_options
from harness.cli.scale import scale_command
from harness.cli.serve import dashboard_command, serve_command
from harness.cli.worker import worker_command
from harness.config import SERVERS, SHAPES, TARGETS


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Benchmark and profile Flask apps with numbers you can trust.

    With no command, runs the default suite (the same as 'suite'): technique studies
    that say what caching, async views and servers buy, as throughput ratios with
    intervals, then where the run folder and report are.
    """
    if ctx.invoked_subcommand is None:
        from harness.cli.suite import execute_suite

        execute_suite()


@cli.command()
@run_options
@click.option("--profile", is_flag=True, help="Profile a sample of requests (see 'profile').")
@click.option(
    "--profile-rate",
    type=float,
    default=0.05,
    show_default=True,
    help="Fraction of requests profiled per endpoint.",
)
def run(**opts: Any) -> None:
    """Measure targets x servers x scenarios and store a self-describing run folder."""
    execute_run(config_from_options(opts))


@cli.command()
@run_options
@click.option(
    "--profile-rate",
    type=float,
    default=0.05,
    show_default=True,
    help="Fraction of requests profiled per endpoint (at most; after the first 50 per worker).",
)
@click.option(
    "--overhead",
    is_flag=True,
    help="Run every cell with and without profiling, interleaved, and state the cost.",
)
def profile(**opts: Any) -> None:
    """Like 'run', with a sample of requests profiled per endpoint (pyinstrument).

    Hotspots per endpoint, pyinstrument HTML, speedscope JSON and folded stacks land
    in the run folder's profiles/; profiled requests are kept out of the latency figures.
    """
    name = "profile-overhead" if opts["overhead"] else "profile"
    cfg = config_from_options(opts, profile=not opts["overhead"], default_name=name)
    execute_run(cfg)


@cli.command(name="list")
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True
)
def list_(out_dir: Path) -> None:
    """Targets, scenarios, servers and the runs stored so far."""
    from loadtests.catalog import SCENARIOS
    from runfolder.storage import list_runs

    for title, items in (
        ("Targets", TARGETS),
        ("Scenarios", {k: v.description for k, v in SCENARIOS.items()}),
        ("Servers", SERVERS),
        ("Load shapes", SHAPES),
    ):
        table = Table(title=title, title_justify="left", show_header=False)
        table.add_column("name", style="bold")
        table.add_column("description")
        for key, desc in items.items():
            table.add_row(key, desc)
        stdout.print(table)
    runs = list_runs(out_dir)
    table = Table(title=f"Runs in {out_dir}", title_justify="left")
    for col in ("run", "status", "created", "cells", "profiled"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            r["name"], r["status"], r["created"], str(r["cells"]), "yes" if r["profiled"] else ""
        )
    stdout.print(table if runs else f"No runs in {out_dir} yet: run 'python bench.py'.")


# commands that live beside their feature's package
cli.add_command(report_command, "report")
cli.add_command(compare_command, "compare")
cli.add_command(ab_command, "ab")
cli.add_command(serve_command, "serve")
cli.add_command(dashboard_command, "dashboard")
cli.add_command(scale_command, "scale")
cli.add_command(worker_command, "worker")


def _add_step_commands() -> None:
    """Step-based commands (capacity; the suite), beside their own modules."""
    from harness.cli.capacity import capacity_command
    from harness.cli.suite import suite_command

    cli.add_command(capacity_command, "capacity")
    cli.add_command(suite_command, "suite")


_add_step_commands()


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (a CI timeout, ``kill``) stops a run like Ctrl-C: children stopped, data kept."""
    raise KeyboardInterrupt


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    # a shell starts background jobs with SIGINT ignored, and Python then leaves it ignored:
    # `kill -INT` to the job's process group must still stop the run and keep its data
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        cli.main(prog_name="bench.py", standalone_mode=False)
    except click.exceptions.Abort:
        console.print("Aborted.")
        sys.exit(130)
    except KeyboardInterrupt:
        console.print("Interrupted.")
        sys.exit(130)
    except click.UsageError as exc:
        # one line, not click's three: what is wrong and where the help is
        where = exc.ctx.command_path if exc.ctx else "bench.py"
        click.echo(f"Error: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
