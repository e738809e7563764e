"""The ``capacity`` command and its console tables (registered by ``harness/cli.py``)."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from harness.cli.configure import config_from_options
from harness.cli.console import console, derive_outputs, stdout
from harness.cli.options import RUN, use_options
from harness.cli.paramtypes import DURATION
from harness.run.engine import Progress
from harness.segments.capacity.run import run_capacity
from harness.segments.capacity.search import SearchPlan, Slo
from harness.segments.sides import CONNECTIONS, StepTimes

# every option of ``run`` except --rate (the search finds it); steps are short by default
STEP_DEFAULTS = {"users": CONNECTIONS, "warmup": "1s", "duration": "2s"}
capacity_options = use_options(*(n for n in RUN if n != "rate"), **STEP_DEFAULTS)


def _fmt(value: float | None, thin: bool = False) -> str:
    if value is None:
        return "-"
    text = f"{value:.2f}" if value < 10 else f"{value:.1f}"
    return f"thin ({text})" if thin else text


def capacity_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        title="Capacity under the SLO (open model, corrected latency)", title_justify="left"
    )
    for col in (
        "target",
        "server",
        "scenario",
        "SLO",
        "capacity req/s",
        "bracket",
        "steps",
        "result",
    ):
        table.add_column(col, justify="right" if col in ("capacity req/s", "steps") else "left")
    for row in rows:
        cap = row.get("capacity")
        if not cap:
            continue
        low, high = cap["bracket"]
        bracket = f"{low:.0f}-{high:.0f}" if high else f">= {low:.0f}"
        rate = f"{cap['rate']:,.0f}" if cap["rate"] is not None else "-"
        table.add_row(
            row["target"],
            row["server"],
            row["scenario"],
            cap["slo"]["text"],
            rate,
            bracket,
            str(len(cap["steps"])),
            cap["message"],
        )
    return table


def ladder_table(row: dict[str, Any]) -> Table:
    cap = row["capacity"]
    table = Table(
        title=f"Ladder of {row['cell_id']} r{row['repetition']} ({cap['slo']['text']})",
        title_justify="left",
    )
    for col in ("rate", "achieved", "p50 ms", "p99 ms", "errors", "dropped", "verdict"):
        table.add_column(col, justify="left" if col == "verdict" else "right")
    for s in cap["steps"]:
        verdict = ("pass" if s["passed"] else "fail: " + s["reason"]) + (
            " (confirmation)" if s["confirm"] else ""
        )
        table.add_row(
            f"{s['rate']:g}",
            f"{s['achieved']:.0f}",
            _fmt(s["p50"]),
            _fmt(s["p99"], s["thin"]),
            f"{s['errors']:.2f}%",
            str(s["dropped"]),
            verdict,
        )
    return table


@click.command()
@capacity_options
@click.option(
    "--slo",
    default="p99:50ms,errors:0.1%",
    show_default=True,
    help="The service-level objective a step must meet: p99 (corrected) and errors.",
)
@click.option(
    "--max-time",
    type=DURATION,
    default="60s",
    show_default=True,
    help="Time bound of one cell's search; it says so when it stops on it.",
)
@click.option(
    "--start-rate",
    type=float,
    default=50.0,
    show_default=True,
    help="The first step's rate (req/s); steps double until one fails.",
)
@click.option(
    "--confirm",
    "confirm_s",
    type=DURATION,
    default="5s",
    show_default=True,
    help="The confirmation step's measured time at the rate found.",
)
def capacity_command(
    slo: str, max_time: float, start_rate: float, confirm_s: float, **opts: Any
) -> None:
    """Maximum sustainable request rate under an SLO, per cell.

    Open-model steps: exponential from --start-rate until one fails, bisection to 5%,
    then one longer confirmation step. --warmup and --duration are each step's
    (default 1s and 2s); --users is the number of connections (default 64).
    """
    parsed = Slo.parse(slo)
    if start_rate <= 0:
        raise click.BadParameter("must be > 0", param_hint="--start-rate")
    cfg = config_from_options(opts, default_name="capacity")
    times = StepTimes(cfg.load.warmup, cfg.load.duration, max(confirm_s, 1.0))
    plan = SearchPlan(start=start_rate, max_time=max_time)
    outcome = run_capacity(cfg, parsed, plan, times, _line_progress(), derive_outputs)
    stdout.print(capacity_table(outcome.rows))
    for row in outcome.rows:
        stdout.print(ladder_table(row))
    stdout.print(f"Run folder: {outcome.run_dir}")
    if outcome.report:
        stdout.print(f"Report: {outcome.report}")


def _line_progress() -> Progress:
    return Progress(message=lambda text: console.print(text, highlight=False))
