"""The serve and dashboard commands: one target (or your app) on a server, left running
for you to send requests to, by hand or from Locust's web UI.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from harness.cli.configure import config_from_options
from harness.cli.console import derive_outputs, stdout
from harness.cli.options import APP_ENV, use_options
from runfolder.errors import ConfigError, HarnessError

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
    from harness.cli.configure import app_environment
    from harness.config import validate_subject
    from harness.sections import Subject
    from harness.stack.server_commands import ServerSpec

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


@click.command("serve")
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
def serve_command(
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
    from harness.config import validate_database
    from harness.sections import Database, Subject
    from harness.stack.databases import Databases, target_env
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


@click.command("dashboard")
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
def dashboard_command(
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
