"""Command line: a thin click layer over the harness functions.

Every command validates its flags into a ``RunConfig`` (or raises ``ConfigError``)
and calls one library function. ``HarnessError`` subclasses are click exceptions,
so they print as one ``Error:`` line with a non-zero exit code. Options are declared
once, in ``harness.cli.options``; what commands print is in ``harness.cli.console``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from harness.cli.ab import ab_command
from harness.cli.compare import compare_command, report_command
from harness.cli.console import console, derive_outputs, execute_run, print_scaling, stdout
from harness.cli.options import (
    APP_ENV,
    OUTPUT,
    PINNING,
    config_from_options,
    run_options,
    use_options,
)
from harness.config import SERVERS, SHAPES, TARGETS, parse_host_port
from runfolder.errors import ConfigError, HarnessError


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


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option}: '{text}' is not a list of numbers; use e.g. 1,2,4") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"{option}: values must be whole numbers > 0, e.g. 1,2,4")
    return values


@cli.command()
@use_options("target", "server", "scenario", scenario=("json",))
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
@use_options(
    "threads",
    "users",
    "duration",
    "warmup",
    "repeat",
    "processes",
    "redis",
    "balance",
    "upstream_keepalive",
    "database",
    "database_url",
    "db_pool",
    "allow_remote",
    *PINNING,
    *OUTPUT,
    users=32,
    duration="15s",
    warmup="3s",
    name="scale",
)
def scale(workers_list: str, instances_list: str, **opts: Any) -> None:
    """The scaling curve: throughput, p99 and efficiency per workers x instances."""
    sweep = tuple(
        (w, i)
        for i in _int_list(instances_list, "--instances")
        for w in _int_list(workers_list, "--workers")
    )
    opts.update(sweep=sweep, workers=sweep[0][0], instances=sweep[0][1])
    cfg = config_from_options(opts)
    execute_run(cfg)
    print_scaling(cfg)


@cli.command()
@click.option("--master", "master", required=True, help="HOST:PORT of the master's Locust port.")
@click.option("--scenario", default="browse", show_default=True)
@use_options("processes")
def worker(master: str, scenario: str, processes: int) -> None:
    """Join a run started elsewhere with --expect-workers, as a Locust worker."""
    from harness.load.loadgen import locust_worker_argv
    from harness.stack.processes import Supervisor
    from loadtests.catalog import SCENARIOS

    if scenario not in SCENARIOS:
        raise ConfigError(f"--scenario: unknown value '{scenario}'; see 'python bench.py list'")
    if processes <= 0:
        raise ConfigError(f"--processes must be > 0 (got {processes})")
    host, port = parse_host_port(master, "--master")
    argv = locust_worker_argv(scenario, host, port, processes)
    console.print(f"joining master {host}:{port} as a Locust worker ({scenario}); Ctrl-C leaves")
    log = (Path("runs") / "worker.log").resolve()
    console.print(f"its log: {log}")
    with Supervisor() as sup:
        code = sup.start("locust worker", argv, log_path=log).popen.wait()
    if code not in (0, -2, 130):
        raise HarnessError(f"the Locust worker ended with exit code {code}; see {log}")


serve_options = use_options(
    "one_target",
    "app",
    "app_dir",
    *APP_ENV,
    "one_server",
    "workers",
    "threads",
    "instances",
    "balance",
    "redis",
    "database",
    "database_url",
    "db_pool",
)
"""What to serve: the options ``serve`` and ``dashboard`` share."""


def server_spec(
    target: str | None,
    app: str | None,
    app_dir: Path | None,
    server: str,
    workers: int,
    threads: int,
    **app_env: Any,
) -> Any:
    from harness.cli.options import app_environment
    from harness.config import Subject, validate_subject
    from harness.stack.servers import ServerSpec

    if target and app:
        raise ConfigError("--target cannot be combined with --app")
    extra = app_environment(app_env)
    validate_subject(Subject(targets=() if app else (target or "sync",), app=app, **extra))
    if app_dir is not None and not app_dir.is_dir():
        raise ConfigError(f"--app-dir: {app_dir} is not a folder")
    if workers <= 0 or threads <= 0:
        raise ConfigError("--workers and --threads must be > 0")
    app_dir = (app_dir or Path.cwd()).resolve() if app else None
    return ServerSpec(
        None if app else (target or "sync"),
        server,
        workers,
        threads,
        app=app,
        app_dir=app_dir,
        python=extra.get("app_python"),
        env=extra.get("env", ()),
    )


@cli.command()
@serve_options
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port on 127.0.0.1. Default: 8000, or a free one if taken.",
)
@click.option("--debug", is_flag=True, help="Debug mode with Flask-DebugToolbar (local use only).")
@click.option(
    "--bind",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; another than 127.0.0.1 exposes the app to the network "
    "(for a load run from other machines).",
)
@click.option(
    "--db",
    type=click.Path(path_type=Path),
    default=Path("instance/serve.sqlite3"),
    show_default=True,
    help="SQLite database file (created and seeded if missing; with --database sqlite).",
)
@use_options("allow_remote")
def serve(
    target: str | None,
    app: str | None,
    app_dir: Path | None,
    server: str,
    workers: int,
    threads: int,
    instances: int,
    balance: str,
    redis: bool,
    database: str,
    database_url: str | None,
    db_pool: int | None,
    port: int | None,
    debug: bool,
    bind: str,
    db: Path,
    allow_remote: bool,
    **app_env: Any,
) -> None:
    """Start one target (with its upstream service) for a person to use; Ctrl-C stops it.

    With --database postgres a PostgreSQL server starts for the session and is removed with
    it; every instance behind nginx shares it.
    """
    from harness.config import Database, Subject, validate_database
    from harness.stack.postgres import Databases, target_env
    from harness.stack.processes import Supervisor, port_in_use
    from harness.stack.servers import start_stack
    from targets.verify import is_loopback_url

    spec = server_spec(target, app, app_dir, server, workers, threads, **app_env)
    database = "postgres" if database_url else database
    validate_database(
        Database(database, database_url, db_pool), Subject(targets=(), app=app or None)
    )
    if debug and bind != "127.0.0.1":
        raise ConfigError("--debug is for this machine only: it cannot be combined with --bind")
    if debug and spec.workers > 1:
        spec = replace(spec, workers=1)  # the toolbar keeps its panels in process memory
    if port is None:
        port = 8000 if not port_in_use(8000) else None
    log_dir = db.parent.resolve() / "logs"
    db.parent.mkdir(parents=True, exist_ok=True)
    databases = Databases(database, database_url, allow_remote=allow_remote, log_dir=log_dir)
    if database == "postgres":
        databases.check()
    with databases, Supervisor() as sup:
        if database == "postgres":
            db_env = databases.env_for("serve", pool=db_pool)
        else:
            db_env = target_env(f"sqlite:///{db.resolve()}", databases.root / "serve", db_pool)
        stack = start_stack(
            sup,
            spec,
            log_dir,
            database_env=db_env,
            port=port,
            redis=redis,
            debug=debug,
            instances=instances,
            bind=bind,
            balance=balance,
        )
        if not is_loopback_url(f"http://{bind}/" if ":" not in bind else f"http://[{bind}]/"):
            stdout.print(f"listening on {bind}: reachable from other machines")
        what = f"{spec.target} target" if spec.target else spec.app
        stdout.print(f"{what} on {server}: {stack.url}/  (logs in {log_dir})")
        if stack.upstream:
            stdout.print(f"upstream service: {stack.upstream.url}")  # type: ignore[attr-defined]
        if databases.server is not None:
            pg = databases.server
            stdout.print(f"PostgreSQL {pg.version.split()[0]} on {pg.host}:{pg.port}")
        if debug:
            stdout.print("debug mode: Flask-DebugToolbar is on; keep this on 127.0.0.1")
        stdout.print("Press Ctrl-C to stop.")
        while True:
            dead = stack.dead()
            if dead:
                raise HarnessError(f"{dead[0].describe_exit()}")
            databases.check_alive()
            time.sleep(0.5)


@cli.command()
@serve_options
@click.option(
    "--scenario",
    default=None,
    metavar="NAME|FILE.py",
    help="Scenario loaded in the UI. Default: browse, or routes with --app.",
)
@use_options("routes", "exclude", "host", "allow_remote", "users", "spawn_rate", "processes")
@click.option(
    "--web-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the web UI. Default: 8089, or a free one if taken.",
)
@use_options("out")
def dashboard(
    target: str | None, server: str, scenario: str | None, web_port: int | None, **opts: Any
) -> None:
    """Locust's web UI on a target; every test you start and stop becomes a run folder."""
    from harness.run.dashboard import run_dashboard

    if target and (opts["app"] or opts["host"]):
        raise ConfigError("--target cannot be combined with --app or --host")
    opts.update(
        targets=(target,) if target else (),
        servers=(server,),
        scenarios=(scenario,) if scenario else (),
    )
    cfg = config_from_options(opts, default_name="dashboard")
    out = cfg.out

    def ready(web: str, target_url: str) -> None:
        stdout.print(f"Locust dashboard: {web}/")
        stdout.print(f"Target:           {target_url}/")
        stdout.print(
            "Start and stop tests in the dashboard; each becomes a run folder in "
            f"{out}/. Press Ctrl-C here to quit."
        )

    def made(run_dir: Path) -> None:
        report = run_dir / "report.html"
        stdout.print(
            f"Test saved: {run_dir}" + (f"  (report: {report})" if report.exists() else "")
        )

    try:
        run_dashboard(cfg, port=web_port, on_ready=ready, on_run=made, derive=derive_outputs)
    except KeyboardInterrupt:
        stdout.print("Dashboard stopped.")


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
