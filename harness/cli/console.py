"""What the commands print: result tables, progress, and the run's derived files.

Tables go to standard output (160 columns when it is not a terminal, so logs stay
readable); progress and warnings to standard error.
"""

from __future__ import annotations

from pathlib import Path
from statistics import median
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.config import RunConfig
from runfolder import across_cells
from runfolder.storage import read_json, resolve_run

console = Console(stderr=True, highlight=False)
# tables stay readable in logs and pipes, where rich would otherwise assume 80 columns
stdout = Console(highlight=False)
if not stdout.is_terminal:
    stdout = Console(highlight=False, width=160)


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def summary_table(rows: list[dict[str, Any]], run_dir: Path, app: str | None = None) -> Table:
    """Per cell: throughput and latency of all endpoints together (median over repetitions);
    a user's app is named by its import string."""
    table = Table(title=f"Results (steady state) - {run_dir}", title_justify="left")
    for col in (
        "target",
        "server",
        "scenario",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "errors",
        "n",
        "warnings",
    ):
        table.add_column(
            col,
            justify="right" if col not in ("target", "server", "scenario", "warnings") else "left",
        )
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_cell.setdefault(row["cell_id"], []).append(row)
    for cell_rows in by_cell.values():
        first = {**cell_rows[0], "target": app or cell_rows[0]["target"]}
        alls = [r["endpoints"].get("ALL") for r in cell_rows if r["endpoints"].get("ALL")]
        if not alls:
            table.add_row(
                first["target"],
                first["server"],
                first["scenario"],
                *["-"] * 7,
                "no requests recorded",
            )
            continue
        lat = [a["latency_ms"] or {} for a in alls]

        def med(key: str, lat: list[dict[str, Any]] = lat) -> float | None:
            vals = [entry[key] for entry in lat if entry.get(key) is not None]
            return median(vals) if vals else None

        warnings = []
        if any(r["generator_bound"] for r in cell_rows):
            warnings.append("generator-bound")
        thin = sorted({p for a in alls for p in a["thin"]})
        if thin:
            warnings.append("thin " + ",".join(thin))
        count = sum(a["latency_ms"]["count"] for a in alls if a["latency_ms"])
        table.add_row(
            first["target"],
            first["server"],
            first["scenario"],
            f"{median(a['rps'] for a in alls):,.0f}",
            _fmt_ms(med("p50")),
            _fmt_ms(med("p90")),
            _fmt_ms(med("p99")),
            _fmt_ms(med("p99.9")),
            f"{median(a['error_pct'] for a in alls):.2f}%",
            f"{count:,}" + (f" ({len(alls)} reps)" if len(alls) > 1 else ""),
            ", ".join(warnings),
        )
    return table


def lead_table(rows: list[dict[str, Any]], run_dir: Path, app: str | None) -> Table | None:
    """The slowest endpoints of each cell, the part dominating their tail and their top
    functions: the report's lead (``reports.lead``), in the words it uses there."""
    from reports.lead import cell_leads, functions_text, read_hotspot_cells, subject_name

    def name(row: dict[str, Any]) -> str:
        target = subject_name({"app": app}, str(row["target"]))
        return f"{target} · {row['server']} · {row['scenario']}"

    leads = cell_leads(rows, read_hotspot_cells(run_dir), name)
    if not any(lead.endpoints for lead in leads):
        return None
    table = Table(title="Slowest endpoints, and why", title_justify="left")
    columns = ("cell", "endpoint", "p99 ms", "what dominates the tail", "top functions (self/req)")
    for col in columns:
        table.add_column(col, justify="right" if col == "p99 ms" else "left")
    for lead in leads:
        for i, ep in enumerate(lead.endpoints):
            table.add_row(
                lead.name if i == 0 else "",
                ep.endpoint,
                _fmt_ms(ep.p99) + (" thin" if ep.thin else ""),
                ep.part_short or "-",
                functions_text(ep.hotspots) or "-",
            )
    return table


def overhead_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        title="Profiling overhead (same cell with and without profiling, interleaved)",
        title_justify="left",
    )
    for col in (
        "cell",
        "endpoint",
        "req/s off",
        "req/s on",
        "throughput cost",
        "p50 off ms",
        "p50 on ms",
        "p50 cost",
        "reps",
    ):
        table.add_column(col, justify="left" if col in ("cell", "endpoint") else "right")

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:+.1f}%"

    for r in rows:
        table.add_row(
            r["cell_id"],
            r["endpoint"],
            f"{r['rps_unprofiled'] or 0:,.0f}",
            f"{r['rps_profiled'] or 0:,.0f}",
            pct(r["throughput_cost_pct"]),
            _fmt_ms(r["p50_unprofiled_ms"]),
            _fmt_ms(r["p50_profiled_ms"]),
            pct(r["p50_cost_pct"]),
            str(r["repetitions"]),
        )
    return table


def _progress_reporter() -> Any:
    """Progress bars on a terminal, one line per cell otherwise (CI logs)."""
    from harness.run.engine import Progress

    if not console.is_terminal:
        return Progress(
            cell_started=lambda i, n, cell, rep, total: console.print(
                f"[{i + 1}/{n}] {cell.target} on {cell.server}, {cell.scenario}"
                + (f", repetition {rep + 1}" if rep else "")
                + f" ({total:.0f}s)"
            ),
            message=lambda text: console.print(text, markup=False),
        )
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bars

    bars = Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>4.0f}/{task.total:.0f}s"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    state: dict[str, Any] = {}

    def started(i: int, n: int, cell: Any, rep: int, total: float) -> None:
        if not bars.live.is_started:
            bars.start()
        desc = f"[{i + 1}/{n}] {cell.target} · {cell.server} · {cell.scenario}"
        if rep:
            desc += f" · rep {rep + 1}"
        state["task"] = bars.add_task(desc, total=total)

    def tick(elapsed: float) -> None:
        if "task" in state:
            bars.update(state["task"], completed=elapsed)

    def finished(row: dict[str, Any]) -> None:
        if "task" in state:
            bars.update(state["task"], completed=bars.tasks[-1].total)

    def message(text: str) -> None:
        bars.console.print(text, markup=False)  # plain text: '[login]' is not a style

    progress = Progress(cell_started=started, tick=tick, cell_finished=finished, message=message)
    progress.bars = bars  # type: ignore[attr-defined]
    return progress


def derive_outputs(run_dir: Path, profiled: bool) -> Path | None:
    """Profile aggregation and the HTML report of a written run folder; returns the report.

    A failure here never loses the run: derived files can be rebuilt later.
    """
    if profiled:
        try:
            from profiles.aggregate import aggregate_run

            aggregate_run(run_dir)
        except Exception as exc:
            console.print(f"warning: profile aggregation failed: {exc}")
    from reports.report import render_report

    try:
        return render_report(run_dir)
    except Exception as exc:
        console.print(
            f"warning: the report could not be built ({exc}); "
            f"retry with 'python bench.py report {run_dir}'"
        )
        return None


def run_with_progress(cfg: RunConfig, derive: Any = None) -> Any:
    """``run_benchmark`` with progress bars (or lines); returns its outcome."""
    from harness.run.engine import run_benchmark

    progress = _progress_reporter()
    try:
        return run_benchmark(cfg, progress, derive)
    finally:
        bars = getattr(progress, "bars", None)
        if bars is not None and bars.live.is_started:
            bars.stop()


def execute_run(cfg: RunConfig) -> None:
    outcome = run_with_progress(cfg, derive_outputs)
    stdout.print(summary_table(outcome.rows, outcome.run_dir, cfg.subject.app))
    lead = lead_table(outcome.rows, outcome.run_dir, cfg.subject.app)
    if lead is not None:
        stdout.print(lead)
    for row in outcome.rows:
        for warning in row["warnings"]:
            console.print(
                f"[yellow]warning[/] {row['cell_id']} r{row['repetition']}: {escape(warning)}"
            )
    overhead = across_cells.profiling_overhead(outcome.rows)
    if overhead:
        stdout.print(overhead_table(overhead))
    stdout.print(f"Run folder: {outcome.run_dir}")
    if outcome.report:
        stdout.print(f"Report: {outcome.report}")


def print_scaling(cfg: RunConfig) -> None:

    run_dir = resolve_run("latest", cfg.out)
    data = read_json(run_dir / "summary.json")
    table = Table(title="Scaling", title_justify="left")
    for col in (
        "target",
        "server",
        "workers",
        "instances",
        "req/s",
        "p99 ms",
        "efficiency",
        "server CPU %",
        "database CPU %",
    ):
        table.add_column(col, justify="right")
    rows = data.get("scaling", [])
    for row in rows:
        table.add_row(
            row["target"],
            row["server"],
            str(row["workers"]),
            str(row["instances"]),
            f"{row['rps']:,.0f}" if row["rps"] else "-",
            _fmt_ms(row["p99_ms"]),
            f"{row['efficiency']:.2f}" if row["efficiency"] else "-",
            f"{row['server_cpu_pct']:.0f}" if row["server_cpu_pct"] else "-",
            f"{row['database_cpu_pct']:.0f}" if row.get("database_cpu_pct") else "-",
        )
    stdout.print(table)
    bound = [r for r in rows if r.get("database_bound")]
    if bound:
        first = min(bound, key=lambda r: (r["processes"], r["instances"]))
        stdout.print(
            f"Note: from {first['workers']} worker(s) x {first['instances']} instance(s) on, "
            f"the database is the limit, not the app: PostgreSQL used "
            f"{first['database_cpu_pct']:.0f}% CPU against the app's "
            f"{first['server_cpu_pct']:.0f}%; more app processes cannot raise throughput."
        )
    cpus = len(cfg.pinning.server_cpus or ()) or None
    biggest = max(w * i for w, i in cfg.servers.sweep)
    if cpus and biggest > cpus:
        stdout.print(
            f"Note: the server side has {cpus} CPU(s); cells with more than {cpus} worker "
            "processes share CPUs, so beyond that the curve shows this machine's limit, "
            "not the app's. Run on a bigger machine to extend it."
        )
