"""``python bench.py`` / ``python bench.py suite``: the technique studies and their table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from harness.cli.console import console, derive_outputs, stdout
from harness.cli.options import use_options
from harness.config import RunConfig
from harness.run.engine import Progress
from harness.segments.sides import CONNECTIONS, RunFolder
from harness.segments.suite.headline import add_hotspots
from harness.segments.suite.run import run_suite
from harness.segments.suite.studies import (
    SuitePlan,
    chosen_studies,
    group_cells,
    group_studies,
)
from harness.segments.suite.why import add_why
from reports.suite_tables import answers_table, headline_table, render_terminal

# the share of requests profiled, for the "why" line's fallback (top functions when the
# Server-Timing middleware sends no CPU part): a profiled request costs several times an
# unprofiled one's CPU, so few are taken, to leave the throughput as it is
PROFILE_RATE = 0.005


def execute_suite(
    thorough: bool = False,
    out: Any = None,
    max_time: float | None = None,
    seed: int = 0,
    **database: Any,
) -> None:
    """``database``: the ``--database``, ``--database-url`` and ``--db-pool`` of every side a
    study does not set itself."""
    started = time.monotonic()
    plan = SuitePlan.of(thorough, max_time, seed)
    cfg = RunConfig.build(
        targets=("sync",),
        scenarios=("queries",),
        users=CONNECTIONS,
        warmup=plan.warmup_s,
        duration=plan.segment_s,
        out=Path(out) if out else Path("runs"),
        name="suite",
        profile=True,
        profile_rate=PROFILE_RATE,
        **{k: v for k, v in database.items() if v is not None},
    )
    studies, skipped = chosen_studies(plan)
    cells = [c for group in group_studies(studies) for c in group_cells(cfg, group)]
    run = RunFolder(cfg, cells, "suite")

    def derive(run_dir: Path, profiled: bool) -> Path | None:
        """Profiles first, then each study's "why" line, then the report."""
        try:
            from profiles.aggregate import aggregate_run

            aggregate_run(run_dir)
        except Exception as exc:  # derived files can be rebuilt later
            console.print(f"warning: profile aggregation failed: {exc}")
        section = run.section("studies")
        if section:
            add_why(run_dir, section, run.rows)
            run.set_section("studies", section)
        headline = run.section("headline")
        if headline:
            add_hotspots(run_dir, headline)
            run.set_section("headline", headline)
        return derive_outputs(run_dir, False)

    progress = Progress(message=lambda text: console.print(text, highlight=False))
    kind = "Thorough" if thorough else "Quick"
    console.print(
        f"{kind} suite: {len(studies)} studies, pairs of segments measured together (seed "
        f"{plan.seed}) until each interval is within ±{plan.target:.1%} "
        f"(the control ±{plan.control_target:.1%}) or {plan.max_time:.0f} s are spent"
    )
    for note in skipped:
        console.print(note)
    try:
        run_suite(run, plan, progress, derive)
    finally:
        print_results(run)
    wall = time.monotonic() - started
    stdout.print(
        f"{kind} suite wall time: {wall:.0f} s"
        + ("" if thorough else " (python bench.py suite --thorough: more studies, tighter)")
    )
    stdout.print(f"Run folder: {run.dir}")
    if run.report:
        stdout.print(f"Report: {run.report}")


def print_results(run: RunFolder) -> None:
    """The answers table, each study's sentence and why line, then the headline."""
    section = run.section("studies")
    if section and section.get("studies"):
        render_terminal(answers_table(section), stdout)
        for st in section["studies"]:
            stdout.print(f"  {st['question']} {st['verdict']}", markup=False)
            for note in st.get("notes", []):
                stdout.print(f"    note: {note}", markup=False)
            if st.get("why"):  # function names such as [async_to_sync thread hop]
                stdout.print(f"    {st['why']}", markup=False)
        if section.get("stopped"):
            stdout.print(f"pairs stopped: {section['stopped']}", markup=False)
        for note in section.get("skipped", []):
            stdout.print(f"note: {note}", markup=False)
    headline = run.section("headline")
    if headline:
        render_terminal(headline_table(headline), stdout)
        if headline.get("sentence"):
            stdout.print(f"  {headline['sentence']}", markup=False)


@click.command()
@click.option(
    "--thorough",
    is_flag=True,
    help="Every study, 2 s segments, intervals within ±2.5% (the control ±1.5%).",
)
@click.option(
    "--max-time",
    type=click.FloatRange(min=30.0),
    default=None,
    help="Seconds for the whole command, start-up and report included "
    "[default: 150, --thorough 900]; pairs stop before it is overrun.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the pairs' random order (A B or B A); recorded in meta.json.",
)
@click.option(
    "--out", type=click.Path(), default="runs", show_default=True, help="Where run folders go."
)
@use_options("database", "database_url", "db_pool")
def suite_command(
    thorough: bool, max_time: float | None, seed: int, out: str, **database: Any
) -> None:
    """The technique studies: what caching, async views and servers buy, with intervals."""
    if database.get("database_url"):
        database["database"] = "postgres"
    execute_suite(thorough, out, max_time, seed, **database)
