"""``python bench.py`` / ``python bench.py suite``: the technique studies and their table."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

from harness.cli.console import console, derive_outputs, stdout
from harness.cli.options import use_options
from harness.config import RunConfig
from harness.run.engine import Progress
from harness.segments.sides import CONNECTIONS, RunFolder
from harness.segments.suite.headline import add_hotspots
from harness.segments.suite.studies import (
    PROFILE_RATE,
    SuitePlan,
    add_why,
    chosen_studies,
    group_cells,
    group_studies,
    run_suite,
)


def answers_table(section: dict[str, Any]) -> Table:
    """What each technique buys: one line per study, the answer first."""
    plan = section.get("plan", {})
    title = (
        f"What each technique buys (capacity under each study's SLO; "
        f"{plan.get('repetitions')} interleaved repetitions, "
        f"{'thorough' if plan.get('thorough') else 'quick'} suite)"
    )
    table = Table(title=title, title_justify="left")
    for col in (
        "technique",
        "workload",
        "SLO",
        "baseline",
        "variant",
        "capacity req/s",
        "ratio (95% CI)",
        "p99 at common rate",
        "answer",
    ):
        table.add_column(col, justify="left")
    for st in section.get("studies", []):
        base, var = st["baseline"], st["variant"]
        caps = f"{_rate(base['capacity'])} -> {_rate(var['capacity'])}"
        ratio = "-"
        if st["ratio"] is not None and st["ci"]:
            ratio = f"{st['ratio']:.2f}x ({st['ci'][0]:.2f}-{st['ci'][1]:.2f})"
        common = st.get("common") or {}
        p99 = "-"
        if common.get("base_p99") is not None:
            p99 = (
                f"{_ms(common['base_p99'], common['base_thin'])} -> "
                f"{_ms(common['variant_p99'], common['variant_thin'])} "
                f"at {common['rate']:.0f}/s"
            )
        technique = st["technique"] + (" (noise floor)" if st["control"] else "")
        table.add_row(
            technique,
            st["workload"],
            st["slo"]["text"],
            f"{base['target']} · {base['server']}",
            f"{var['target']} · {var['server']}",
            caps,
            ratio,
            p99,
            st["answer"],
        )
    return table


def headline_table(headline: dict[str, Any]) -> Table:
    """The browse journey: its slowest steps first, with where their time goes."""
    table = Table(
        title=f"Headline: the browse journey ({headline['target']} · "
        f"{headline['server']}, {headline['users']} users, closed model)",
        title_justify="left",
    )
    for col in ("endpoint", "req/s", "p50 ms", "p99 ms", "errors", "top functions (self/req)"):
        table.add_column(col, justify="left" if col.startswith(("endpoint", "top")) else "right")
    for ep in headline["endpoints"]:
        spots = ", ".join(f"{h['function']} {h['self_ms']:.1f} ms" for h in ep["hotspots"])
        table.add_row(
            ep["endpoint"],
            f"{ep['rps']:,.1f}",
            _ms(ep["p50"], "p50" in ep["thin"]),
            _ms(ep["p99"], "p99" in ep["thin"]),
            f"{ep['error_pct']:.2f}%",
            spots,
        )
    return table


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ms(value: float | None, thin: bool) -> str:
    if value is None:
        return "-"
    return f"thin ({value:.1f} ms)" if thin else f"{value:.1f} ms"


def execute_suite(thorough: bool = False, out: Any = None, **database: Any) -> None:
    """``database``: the ``--database``, ``--database-url`` and ``--db-pool`` of every side a
    study does not set itself."""
    from pathlib import Path

    started = time.monotonic()
    plan = SuitePlan.of(thorough)
    cfg = RunConfig.build(
        targets=("sync",),
        scenarios=("queries",),
        users=CONNECTIONS,
        warmup=plan.times.warmup,
        duration=plan.times.duration,
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
            add_why(run_dir, section)
            run.set_section("studies", section)
        headline = run.section("headline")
        if headline:
            add_hotspots(run_dir, headline)
            run.set_section("headline", headline)
        return derive_outputs(run_dir, False)

    progress = Progress(message=lambda text: console.print(text, highlight=False))
    console.print(
        f"{'Thorough' if thorough else 'Quick'} suite: {len(studies)} studies, "
        f"{plan.repetitions} interleaved repetitions each"
    )
    for note in skipped:
        console.print(note)
    try:
        run_suite(run, plan, progress, derive)
    finally:
        section = run.section("studies")
        if section and section.get("studies"):
            stdout.print(answers_table(section))
            for st in section["studies"]:
                stdout.print(f"  {st['question']} {st['verdict']}", markup=False)
                if st.get("why"):  # function names such as [async_to_sync thread hop]
                    stdout.print(f"    {st['why']}", markup=False)
            for note in section.get("skipped", []):
                stdout.print(f"note: {note}", markup=False)
        headline = run.section("headline")
        if headline:
            stdout.print(headline_table(headline))
            if headline.get("sentence"):
                stdout.print(f"  {headline['sentence']}", markup=False)
    wall = time.monotonic() - started
    stdout.print(
        f"{'Thorough' if thorough else 'Quick'} suite wall time: {wall:.0f} s"
        + ("" if thorough else " (python bench.py suite --thorough: longer, narrower intervals)")
    )
    stdout.print(f"Run folder: {run.dir}")
    if run.report:
        stdout.print(f"Report: {run.report}")


@click.command()
@click.option(
    "--thorough",
    is_flag=True,
    help="Every study, 5 repetitions, longer steps, 5% search tolerance.",
)
@click.option(
    "--out", type=click.Path(), default="runs", show_default=True, help="Where run folders go."
)
@use_options("database", "database_url", "db_pool")
def suite_command(thorough: bool, out: str, **database: Any) -> None:
    """The technique studies: what caching, async views and servers buy, with intervals."""
    if database.get("database_url"):
        database["database"] = "postgres"
    execute_suite(thorough, out, **database)
