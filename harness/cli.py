"""Command line: a thin click layer over the harness functions.

Every command validates its flags into a ``RunConfig`` (or raises ``ConfigError``)
and calls one library function. ``HarnessError`` subclasses are click exceptions,
so they print as one ``Error:`` line with a non-zero exit code.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from statistics import median
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from harness.config import (
    BALANCE,
    SERVERS,
    SHAPES,
    TARGETS,
    Pinning,
    RunConfig,
    parse_cpus,
    parse_duration,
    parse_host_port,
)
from runfolder import figures
from runfolder.errors import ConfigError, HarnessError

console = Console(stderr=True, highlight=False)
# tables stay readable in logs and pipes, where rich would otherwise assume 80 columns
stdout = Console(highlight=False)
if not stdout.is_terminal:
    stdout = Console(highlight=False, width=160)

DEFAULT_SUITE = {
    "targets": tuple(TARGETS),
    "servers": ("gunicorn-gthread",),
    "scenarios": ("browse",),
    "duration": 20.0,
    "warmup": 5.0,
    "users": 16,
    "name": "default",
}


class DurationType(click.ParamType):
    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        opt = f"--{param.name}" if param and param.name else "duration"
        return parse_duration(str(value), opt)


DURATION = DurationType()


def _choice(values: dict[str, str]) -> click.Choice:
    return click.Choice(sorted(values), case_sensitive=False)


def run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by ``run`` and ``profile``."""
    from loadtests.catalog import SCENARIOS

    options = [
        click.option("--target", "targets", multiple=True, type=_choice(TARGETS),
                     help="Reference target (repeatable). Default: sync."),
        click.option("--scenario", "scenarios", multiple=True, metavar="NAME|FILE.py",
                     help="Scenario (repeatable): " + ", ".join(SCENARIOS) + "; 'routes' "
                     "(generated from --app's URL map); or your own locustfile. "
                     "Default: browse, or routes with --app."),
        click.option("--app", default=None, metavar="MODULE:OBJECT",
                     help="Your own Flask app instead of a reference target, as Flask's --app "
                     "takes it (myapp:app, myapp:create_app())."),
        click.option("--app-dir", type=click.Path(path_type=Path), default=None,
                     help="Folder to import --app from. Default: the current folder."),
        click.option("--routes", "routes_file", type=click.Path(path_type=Path), default=None,
                     help="TOML file of example values for routes with arguments."),
        click.option("--host", default=None, metavar="URL",
                     help="Drive an app that is already running; no server is started."),
        click.option("--allow-remote", is_flag=True,
                     help="Allow --host to name a machine other than this one."),
        click.option("--server", "servers", multiple=True, type=_choice(SERVERS),
                     help="Server kind (repeatable). Default: gunicorn-gthread."),
        click.option("--workers", type=int, default=2, show_default=True,
                     help="Server worker processes per instance."),
        click.option("--threads", type=int, default=8, show_default=True,
                     help="Threads per worker (gthread, waitress)."),
        click.option("--instances", type=int, default=1, show_default=True,
                     help="Server instances behind nginx (>1 needs nginx)."),
        click.option("--balance", type=click.Choice(BALANCE), default="round_robin",
                     show_default=True, help="nginx's balancing with --instances."),
        click.option("--upstream-keepalive", type=int, default=32, show_default=True,
                     help="Idle keep-alive connections from nginx to the instances (0: off)."),
        click.option("--users", type=int, default=16, show_default=True,
                     help="Concurrent Locust users (closed model)."),
        click.option("--spawn-rate", type=float, default=None,
                     help="Users started per second. Default: all within one second."),
        click.option("--rate", type=float, default=None,
                     help="Open model: requests per second sent on a fixed schedule."),
        click.option("--shape", type=_choice(SHAPES), default="constant", show_default=True,
                     help="Load shape."),
        click.option("--duration", type=DURATION, default="30s", show_default=True,
                     help="Measured interval, after warm-up (30s, 2m, 1h)."),
        click.option("--warmup", type=DURATION, default="5s", show_default=True,
                     help="Load before measuring, excluded from results."),
        click.option("--repeat", type=int, default=1, show_default=True,
                     help="Repetitions of every cell, interleaved A B A B."),
        click.option("--processes", type=int, default=1, show_default=True,
                     help="Locust worker processes."),
        click.option("--think-ms", type=float, default=0.0, show_default=True,
                     help="Think time between a user's requests."),
        click.option("--redis", is_flag=True,
                     help="Start redis-server; the cached target uses it."),
        click.option("--server-cpus", default=None,
                     help="CPUs for the server side, e.g. 1 or 2-3. Default: all but the first."),
        click.option("--generator-cpus", default=None,
                     help="CPUs for Locust, e.g. 0. Default: the first quarter."),
        click.option("--no-pin", is_flag=True, help="Do not pin server and generator to CPUs."),
        click.option("--expect-workers", type=int, default=0,
                     help="Wait for N Locust workers started elsewhere with 'bench.py worker'."),
        click.option("--master-bind", default="127.0.0.1:5557", show_default=True,
                     help="Where the Locust master listens for --expect-workers."),
        click.option("--out", type=click.Path(path_type=Path), default=Path("runs"),
                     show_default=True, help="Where run folders go."),
        click.option("--name", default=None, help="Run name (part of the folder name)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _pinning(server_cpus: str | None, generator_cpus: str | None, no_pin: bool) -> Pinning:
    if no_pin:
        if server_cpus or generator_cpus:
            raise ConfigError("--no-pin cannot be combined with --server-cpus/--generator-cpus")
        return Pinning(None, None)
    default = Pinning.default()
    srv = parse_cpus(server_cpus, "--server-cpus") if server_cpus else default.server_cpus
    gen = (
        parse_cpus(generator_cpus, "--generator-cpus") if generator_cpus else default.generator_cpus
    )
    if srv is None or gen is None:
        return Pinning(srv, gen)
    overlap = set(srv) & set(gen)
    if overlap:
        raise ConfigError(
            f"--server-cpus and --generator-cpus share CPU {min(overlap)}: they must be disjoint"
        )
    return Pinning(srv, gen)


def config_from_options(opts: dict[str, Any], *, profile: bool = False) -> RunConfig:
    name = opts["name"] or ("profile" if profile else "run")
    own = bool(opts.get("app") or opts.get("host"))
    default_scenario = ("routes",) if opts.get("app") else ("browse",)
    return RunConfig(
        targets=tuple(opts["targets"]) or (() if own else ("sync",)),
        scenarios=tuple(opts["scenarios"]) or default_scenario,
        app=opts.get("app"),
        app_dir=opts.get("app_dir") or (Path.cwd() if opts.get("app") else None),
        routes_file=opts.get("routes_file"),
        host=opts.get("host"),
        allow_remote=bool(opts.get("allow_remote")),
        servers=tuple(opts["servers"]) or ("gunicorn-gthread",),
        workers=opts["workers"],
        threads=opts["threads"],
        instances=opts["instances"],
        users=opts["users"],
        spawn_rate=opts["spawn_rate"],
        rate=opts["rate"],
        shape=opts["shape"],
        duration=opts["duration"],
        warmup=opts["warmup"],
        repeat=opts["repeat"],
        processes=opts["processes"],
        think_ms=opts["think_ms"],
        redis=opts["redis"],
        pinning=_pinning(opts["server_cpus"], opts["generator_cpus"], opts["no_pin"]),
        out=opts["out"],
        name=name,
        profile=profile or bool(opts.get("profile")),
        profile_rate=opts.get("profile_rate") or 0.05,
        overhead=bool(opts.get("overhead")),
        balance=opts.get("balance", "round_robin"),
        upstream_keepalive=opts.get("upstream_keepalive", 32),
        expect_workers=opts["expect_workers"],
        master_bind=parse_host_port(opts["master_bind"], "--master-bind"),
        sweep=opts.get("sweep", ()),
    )


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def summary_table(rows: list[dict[str, Any]], run_dir: Path) -> Table:
    """Per cell: throughput and latency of all endpoints together (median over repetitions)."""
    table = Table(title=f"Results (steady state) - {run_dir}", title_justify="left")
    for col in ("target", "server", "scenario", "req/s", "p50 ms", "p90 ms", "p99 ms",
                "p99.9 ms", "errors", "n", "warnings"):  # fmt: skip
        table.add_column(col, justify="right" if col not in ("target", "server", "scenario",
                                                             "warnings") else "left")  # fmt: skip
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_cell.setdefault(row["cell_id"], []).append(row)
    for cell_rows in by_cell.values():
        first = cell_rows[0]
        alls = [r["endpoints"].get("ALL") for r in cell_rows if r["endpoints"].get("ALL")]
        if not alls:
            table.add_row(first["target"], first["server"], first["scenario"], *["-"] * 7,
                          "no requests recorded")  # fmt: skip
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


def overhead_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Profiling overhead (same cell with and without profiling, interleaved)",
                  title_justify="left")  # fmt: skip
    for col in ("cell", "endpoint", "req/s off", "req/s on", "throughput cost", "p50 off ms",
                "p50 on ms", "p50 cost", "reps"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("cell", "endpoint") else "right")

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:+.1f}%"

    for r in rows:
        table.add_row(r["cell_id"], r["endpoint"], f"{r['rps_unprofiled'] or 0:,.0f}",
                      f"{r['rps_profiled'] or 0:,.0f}", pct(r["throughput_cost_pct"]),
                      _fmt_ms(r["p50_unprofiled_ms"]), _fmt_ms(r["p50_profiled_ms"]),
                      pct(r["p50_cost_pct"]), str(r["repetitions"]))  # fmt: skip
    return table


def _progress_reporter() -> Any:
    """Progress bars on a terminal, one line per cell otherwise (CI logs)."""
    from harness.engine import Progress

    if not console.is_terminal:
        return Progress(
            cell_started=lambda i, n, cell, rep, total: console.print(
                f"[{i + 1}/{n}] {cell.target} on {cell.server}, {cell.scenario}"
                + (f", repetition {rep + 1}" if rep else "")
                + f" ({total:.0f}s)"
            ),
            message=lambda text: console.print(text),
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
        bars.console.print(text)

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


def execute_run(cfg: RunConfig) -> None:
    from harness.engine import run_benchmark

    progress = _progress_reporter()
    try:
        outcome = run_benchmark(cfg, progress, derive_outputs)
    finally:
        bars = getattr(progress, "bars", None)
        if bars is not None and bars.live.is_started:
            bars.stop()
    stdout.print(summary_table(outcome.rows, outcome.run_dir))
    for row in outcome.rows:
        for warning in row["warnings"]:
            console.print(f"[yellow]warning[/] {row['cell_id']} r{row['repetition']}: {warning}")
    overhead = figures.profiling_overhead(outcome.rows)
    if overhead:
        stdout.print(overhead_table(overhead))
    stdout.print(f"Run folder: {outcome.run_dir}")
    if outcome.report:
        stdout.print(f"Report: {outcome.report}")


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Benchmark and profile Flask apps with numbers you can trust.

    With no command, runs the default suite: the four reference targets on gunicorn
    (gthread) under the browse scenario, 5 s warm-up and 20 s measured each, then
    prints a table and where the run folder and report are.
    """
    if ctx.invoked_subcommand is None:
        execute_run(RunConfig(**DEFAULT_SUITE))  # type: ignore[arg-type]


@cli.command()
@run_options
@click.option("--profile", is_flag=True, help="Profile a sample of requests (see 'profile').")
@click.option("--profile-rate", type=float, default=0.05, show_default=True,
              help="Fraction of requests profiled per endpoint.")  # fmt: skip
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
    opts["name"] = opts["name"] or ("profile-overhead" if opts["overhead"] else "profile")
    cfg = config_from_options(opts, profile=not opts["overhead"])
    execute_run(cfg)


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option}: '{text}' is not a list of numbers; use e.g. 1,2,4") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"{option}: values must be whole numbers > 0, e.g. 1,2,4")
    return values


@cli.command()
@click.option("--target", "targets", multiple=True, type=_choice(TARGETS))
@click.option("--server", "servers", multiple=True, type=_choice(SERVERS))
@click.option("--scenario", "scenarios", multiple=True, default=("json",), show_default=True)
@click.option(
    "--workers",
    "workers_list",
    default="1,2,4",
    show_default=True,
    help="Worker counts to measure, comma-separated.",
)
@click.option(
    "--instances",
    "instances_list",
    default="1,2",
    show_default=True,
    help="Instance counts (behind nginx when > 1), comma-separated.",
)
@click.option("--threads", type=int, default=8, show_default=True)
@click.option("--users", type=int, default=32, show_default=True)
@click.option("--duration", type=DURATION, default="15s", show_default=True)
@click.option("--warmup", type=DURATION, default="3s", show_default=True)
@click.option("--repeat", type=int, default=1, show_default=True)
@click.option("--processes", type=int, default=1, show_default=True)
@click.option("--redis", is_flag=True)
@click.option("--balance", type=click.Choice(BALANCE), default="round_robin", show_default=True)
@click.option("--upstream-keepalive", type=int, default=32, show_default=True)
@click.option("--server-cpus", default=None)
@click.option("--generator-cpus", default=None)
@click.option("--no-pin", is_flag=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True)
@click.option("--name", default="scale", show_default=True)
def scale(workers_list: str, instances_list: str, **opts: Any) -> None:
    """The scaling curve: throughput, p99 and efficiency per workers x instances."""
    sweep = tuple(
        (w, i)
        for i in _int_list(instances_list, "--instances")
        for w in _int_list(workers_list, "--workers")
    )
    opts.update(
        sweep=sweep, workers=sweep[0][0], instances=sweep[0][1], spawn_rate=None, rate=None,
        shape="constant", think_ms=0.0, expect_workers=0, master_bind="127.0.0.1:5557",
        app=None, host=None,
    )  # fmt: skip
    cfg = config_from_options(opts)
    execute_run(cfg)
    _print_scaling(cfg)


def _print_scaling(cfg: RunConfig) -> None:
    from runfolder.storage import read_json, resolve_run

    run_dir = resolve_run("latest", cfg.out)
    data = read_json(run_dir / "summary.json")
    table = Table(title="Scaling", title_justify="left")
    for col in ("target", "server", "workers", "instances", "req/s", "p99 ms", "efficiency",
                "server CPU %"):  # fmt: skip
        table.add_column(col, justify="right")
    for row in data.get("scaling", []):
        table.add_row(row["target"], row["server"], str(row["workers"]), str(row["instances"]),
                      f"{row['rps']:,.0f}" if row["rps"] else "-", _fmt_ms(row["p99_ms"]),
                      f"{row['efficiency']:.2f}" if row["efficiency"] else "-",
                      f"{row['server_cpu_pct']:.0f}" if row["server_cpu_pct"] else "-")  # fmt: skip
    stdout.print(table)
    cpus = len(cfg.pinning.server_cpus or ()) or None
    biggest = max(w * i for w, i in cfg.sweep)
    if cpus and biggest > cpus:
        stdout.print(
            f"Note: the server side has {cpus} CPU(s); cells with more than {cpus} worker "
            "processes share CPUs, so beyond that the curve shows this machine's limit, "
            "not the app's. Run on a bigger machine to extend it."
        )


@cli.command()
@click.option("--master", "master", required=True, help="HOST:PORT of the master's Locust port.")
@click.option("--scenario", default="browse", show_default=True)
@click.option("--processes", type=int, default=1, show_default=True)
def worker(master: str, scenario: str, processes: int) -> None:
    """Join a run started elsewhere with --expect-workers, as a Locust worker."""
    import subprocess

    from harness.loadgen import locust_executable
    from loadtests.catalog import SCENARIOS, locustfile_path

    if scenario not in SCENARIOS:
        raise ConfigError(f"--scenario: unknown value '{scenario}'; see 'python bench.py list'")
    host, port = parse_host_port(master, "--master")
    argv = [locust_executable(), "-f", str(locustfile_path(scenario)),
            *SCENARIOS[scenario].user_classes, "--worker", "--master-host", host,
            "--master-port", str(port)]  # fmt: skip
    if processes > 1:
        argv += ["--processes", str(processes)]
    console.print(f"joining master {host}:{port} as a Locust worker ({scenario}); Ctrl-C leaves")
    code = subprocess.call(argv)
    if code not in (0, -2, 130):
        raise HarnessError(f"the Locust worker ended with exit code {code}")


def serve_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options that say what to serve: shared by ``serve`` and ``dashboard``."""
    options = [
        click.option("--target", type=_choice(TARGETS), default=None,
                     help="Reference target. Default: sync (unless --app)."),
        click.option("--app", default=None, metavar="MODULE:OBJECT",
                     help="Your own Flask app (myapp:app, myapp:create_app())."),
        click.option("--app-dir", type=click.Path(path_type=Path), default=None,
                     help="Folder to import --app from. Default: the current folder."),
        click.option("--server", type=_choice(SERVERS), default="gunicorn-gthread",
                     show_default=True),
        click.option("--workers", type=int, default=2, show_default=True),
        click.option("--threads", type=int, default=8, show_default=True),
        click.option("--instances", type=int, default=1, show_default=True,
                     help="Server instances behind nginx."),
        click.option("--balance", type=click.Choice(BALANCE), default="round_robin",
                     show_default=True, help="nginx's balancing with --instances."),
        click.option("--redis", is_flag=True,
                     help="Start redis-server; the cached target uses it."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def server_spec(target: str | None, app: str | None, app_dir: Path | None, server: str,
                workers: int, threads: int) -> Any:  # fmt: skip
    from harness.servers import ServerSpec

    if target and app:
        raise ConfigError("--target cannot be combined with --app")
    if app_dir is not None and not app_dir.is_dir():
        raise ConfigError(f"--app-dir: {app_dir} is not a folder")
    if workers <= 0 or threads <= 0:
        raise ConfigError("--workers and --threads must be > 0")
    app_dir = (app_dir or Path.cwd()).resolve() if app else None
    return ServerSpec(None if app else (target or "sync"), server, workers, threads, app=app,
                      app_dir=app_dir)  # fmt: skip


@cli.command()
@serve_options
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port on 127.0.0.1. Default: 8000, or a free one if taken.")  # fmt: skip
@click.option("--debug", is_flag=True, help="Debug mode with Flask-DebugToolbar (local use only).")
@click.option("--bind", default="127.0.0.1", show_default=True,
              help="Address to listen on; another than 127.0.0.1 exposes the app to the network "
              "(for a load run from other machines).")  # fmt: skip
@click.option("--db", type=click.Path(path_type=Path), default=Path("instance/serve.sqlite3"),
              show_default=True,
              help="SQLite database file (created and seeded if missing).")  # fmt: skip
def serve(target: str | None, app: str | None, app_dir: Path | None, server: str, workers: int,
          threads: int, instances: int, balance: str, redis: bool, port: int | None, debug: bool,
          bind: str, db: Path) -> None:  # fmt: skip
    """Start one target (with its upstream service) for a person to use; Ctrl-C stops it."""
    from harness.processes import Supervisor, port_in_use
    from harness.servers import start_stack

    spec = server_spec(target, app, app_dir, server, workers, threads)
    if debug and bind != "127.0.0.1":
        raise ConfigError("--debug is for this machine only: it cannot be combined with --bind")
    if debug and spec.workers > 1:
        spec = replace(spec, workers=1)  # the toolbar keeps its panels in process memory
    if port is None:
        port = 8000 if not port_in_use(8000) else None
    log_dir = db.parent.resolve() / "logs"
    db.parent.mkdir(parents=True, exist_ok=True)
    with Supervisor() as sup:
        stack = start_stack(sup, spec, log_dir, db_path=db.resolve(), port=port, redis=redis,
                            debug=debug, instances=instances, bind=bind,
                            balance=balance)  # fmt: skip
        if bind != "127.0.0.1":
            stdout.print(f"listening on {bind}: reachable from other machines")
        what = f"{spec.target} target" if spec.target else spec.app
        stdout.print(f"{what} on {server}: {stack.url}/  (logs in {log_dir})")
        if stack.upstream:
            stdout.print(f"upstream service: {stack.upstream.url}")  # type: ignore[attr-defined]
        if debug:
            stdout.print("debug mode: Flask-DebugToolbar is on; keep this on 127.0.0.1")
        stdout.print("Press Ctrl-C to stop.")
        while True:
            dead = stack.dead()
            if dead:
                raise HarnessError(f"{dead[0].describe_exit()}")
            time.sleep(0.5)


@cli.command()
@serve_options
@click.option(
    "--scenario",
    default=None,
    metavar="NAME|FILE.py",
    help="Scenario loaded in the UI. Default: browse, or routes with --app.",
)
@click.option(
    "--routes",
    "routes_file",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML file of example values for routes with arguments (--app).",
)
@click.option("--host", default=None, metavar="URL", help="Drive an app that is already running.")
@click.option("--allow-remote", is_flag=True, help="Allow --host to name another machine.")
@click.option("--users", type=int, default=16, show_default=True, help="Initial users in the UI.")
@click.option("--spawn-rate", type=float, default=None)
@click.option("--processes", type=int, default=1, show_default=True)
@click.option(
    "--web-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the web UI. Default: 8089, or a free one if taken.",
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True)
def dashboard(target: str | None, app: str | None, app_dir: Path | None, server: str,
              workers: int, threads: int, instances: int, balance: str, redis: bool,
              scenario: str | None,
              routes_file: Path | None, host: str | None, allow_remote: bool, users: int,
              spawn_rate: float | None, processes: int, web_port: int | None,
              out: Path) -> None:  # fmt: skip
    """Locust's web UI on a target; every test you start and stop becomes a run folder."""
    from harness.dashboard import run_dashboard

    if target and (app or host):
        raise ConfigError("--target cannot be combined with --app or --host")
    cfg = RunConfig(
        targets=() if (app or host) else (target or "sync",),
        scenarios=(scenario or ("routes" if app else "browse"),),
        servers=(server,), workers=workers, threads=threads, instances=instances,
        balance=balance, users=users, spawn_rate=spawn_rate, processes=processes, redis=redis,
        out=out,
        app=app, app_dir=(app_dir or Path.cwd()) if app else None, routes_file=routes_file,
        host=host, allow_remote=allow_remote, name="dashboard",
    )  # fmt: skip

    def ready(web: str, target_url: str) -> None:
        stdout.print(f"Locust dashboard: {web}/")
        stdout.print(f"Target:           {target_url}/")
        stdout.print("Start and stop tests in the dashboard; each becomes a run folder in "
                     f"{out}/. Press Ctrl-C here to quit.")  # fmt: skip

    def made(run_dir: Path) -> None:
        report = run_dir / "report.html"
        stdout.print(f"Test saved: {run_dir}" + (f"  (report: {report})" if report.exists()
                                                  else ""))  # fmt: skip

    try:
        run_dashboard(cfg, port=web_port, on_ready=ready, on_run=made, derive=derive_outputs)
    except KeyboardInterrupt:
        stdout.print("Dashboard stopped.")


@cli.command(name="list")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("runs"),
              show_default=True)  # fmt: skip
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
        table.add_row(r["name"], r["status"], r["created"], str(r["cells"]),
                      "yes" if r["profiled"] else "")  # fmt: skip
    stdout.print(table if runs else f"No runs in {out_dir} yet: run 'python bench.py'.")


def _add_optional_commands() -> None:
    """Commands that live beside their feature's package."""
    try:
        from reports.cli import compare_command, report_command
    except ImportError:
        return
    cli.add_command(report_command, "report")
    cli.add_command(compare_command, "compare")


_add_optional_commands()


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (a CI timeout, ``kill``) stops a run like Ctrl-C: children stopped, data kept."""
    raise KeyboardInterrupt


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
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
