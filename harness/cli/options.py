"""Every command-line option of a measured run, declared once.

``run``, ``profile``, ``scale``, ``dashboard`` and the suites pick the options they
take from ``OPTIONS`` by name (``use_options("users", "rate", ...)``), overriding a
default where a command needs another one; every default comes from the
``harness.config`` sections, so a default is written in one place.
``harness.cli.configure.config_from_options`` turns what click parsed into a validated
``RunConfig``; the parameter types are in ``harness.cli.paramtypes``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from harness.cli.paramtypes import DURATION, choice
from harness.config import BALANCE, DATABASES, SERVERS, SHAPES, TARGETS, RunConfig
from harness.sections import Database, Distribution, Load, Servers

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _scenario_help() -> str:
    from loadtests.catalog import SCENARIOS

    return (
        "Scenario (repeatable): " + ", ".join(SCENARIOS) + "; 'routes' (generated from "
        "--app's URL map); or your own locustfile. Default: browse, or routes with --app."
    )


def _seconds(value: float) -> str:
    return f"{value:g}s"


# name -> (flags, keyword arguments of click.option); "default" is overridable per command
OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    # what is measured
    "target": (
        ("--target", "targets"),
        dict(
            multiple=True,
            type=choice(TARGETS),
            help="Reference target (repeatable). Default: sync.",
        ),
    ),
    "scenario": (
        ("--scenario", "scenarios"),
        dict(multiple=True, metavar="NAME|FILE.py", help=_scenario_help()),
    ),
    "one_target": (
        ("--target",),
        dict(
            type=choice(TARGETS),
            default=None,
            help="Reference target. Default: sync (unless --app).",
        ),
    ),
    "app": (
        ("--app",),
        dict(
            default=None,
            metavar="MODULE:OBJECT",
            help="Your own Flask app instead of a reference target, as Flask's --app takes it "
            "(myapp:app, myapp:create_app()).",
        ),
    ),
    "app_dir": (
        ("--app-dir",),
        dict(
            type=click.Path(path_type=Path),
            default=None,
            help="Folder to import --app from. Default: the current folder.",
        ),
    ),
    "app_python": (
        ("--app-python",),
        dict(
            type=click.Path(path_type=Path),
            default=None,
            metavar="VENV|PYTHON",
            help="Serve --app with its own virtualenv (folder or interpreter): its packages "
            "win, the harness adds only the server and its instruments. Same Python "
            "major.minor as the harness. Default: the harness's own.",
        ),
    ),
    "env": (
        ("--env", "env_pairs"),
        dict(
            multiple=True,
            metavar="KEY=VALUE",
            help="A variable for --app's server (repeatable; wins over --env-file). "
            "Variables you set are never replaced by the harness.",
        ),
    ),
    "env_file": (
        ("--env-file",),
        dict(
            type=click.Path(path_type=Path),
            default=None,
            help="A .env file of KEY=VALUE lines for --app's server (as flask run reads it).",
        ),
    ),
    "routes": (
        ("--routes", "routes_file"),
        dict(
            type=click.Path(path_type=Path),
            default=None,
            help="TOML file of example values for routes with arguments.",
        ),
    ),
    "exclude": (
        ("--exclude",),
        dict(
            multiple=True,
            metavar="GLOB",
            help="Leave generated routes out whose rule matches this glob (repeatable), "
            "e.g. '/admin/*' or '*/delete': GET routes with side effects.",
        ),
    ),
    "host": (
        ("--host",),
        dict(
            default=None,
            metavar="URL",
            help="Drive an app that is already running; no server is started.",
        ),
    ),
    "allow_remote": (
        ("--allow-remote",),
        dict(is_flag=True, help="Allow --host to name a machine other than this one."),
    ),
    # how it is served
    "server": (
        ("--server", "servers"),
        dict(
            multiple=True,
            type=choice(SERVERS),
            help=f"Server kind (repeatable). Default: {Servers.kinds[0]}.",
        ),
    ),
    "one_server": (
        ("--server",),
        dict(
            type=choice(SERVERS), default=Servers.kinds[0], show_default=True, help="Server kind."
        ),
    ),
    "workers": (
        ("--workers",),
        dict(
            type=int,
            default=Servers.workers,
            show_default=True,
            help="Server worker processes per instance.",
        ),
    ),
    "threads": (
        ("--threads",),
        dict(
            type=int,
            default=Servers.threads,
            show_default=True,
            help="Threads per worker (gthread, waitress).",
        ),
    ),
    "instances": (
        ("--instances",),
        dict(
            type=int,
            default=Servers.instances,
            show_default=True,
            help="Server instances behind nginx (>1 needs nginx).",
        ),
    ),
    "balance": (
        ("--balance",),
        dict(
            type=click.Choice(BALANCE),
            default=Servers.balance,
            show_default=True,
            help="nginx's balancing with --instances.",
        ),
    ),
    "upstream_keepalive": (
        ("--upstream-keepalive",),
        dict(
            type=int,
            default=Servers.upstream_keepalive,
            show_default=True,
            help="Idle keep-alive connections from nginx to the instances (0: off).",
        ),
    ),
    "redis": (
        ("--redis",),
        dict(is_flag=True, help="Start redis-server; the cached target uses it."),
    ),
    # the database of the reference targets
    "database": (
        ("--database",),
        dict(
            type=choice(DATABASES),
            default=Database.database,
            show_default=True,
            help="The targets' database: sqlite (embedded) or postgres (a PostgreSQL server "
            "started for the run; needs the Debian package postgresql).",
        ),
    ),
    "database_url": (
        ("--database-url",),
        dict(
            default=None,
            metavar="URL",
            help="An existing PostgreSQL server instead (postgresql://user@127.0.0.1:5432/db; "
            "loopback unless --allow-remote); implies --database postgres.",
        ),
    ),
    "db_pool": (
        ("--db-pool",),
        dict(
            type=int,
            default=Database.db_pool,
            help="Database connections per worker process, at most (SQLAlchemy pool, no "
            "overflow). Default: the targets' 10, up to 20.",
        ),
    ),
    # the load
    "users": (
        ("--users",),
        dict(
            type=int,
            default=Load.users,
            show_default=True,
            help="Concurrent Locust users (closed model).",
        ),
    ),
    "spawn_rate": (
        ("--spawn-rate",),
        dict(
            type=float,
            default=None,
            help="Users started per second. Default: all within one second.",
        ),
    ),
    "rate": (
        ("--rate",),
        dict(
            type=float,
            default=None,
            help="Open model: requests per second sent on a fixed schedule.",
        ),
    ),
    "shape": (
        ("--shape",),
        dict(type=choice(SHAPES), default=Load.shape, show_default=True, help="Load shape."),
    ),
    "duration": (
        ("--duration",),
        dict(
            type=DURATION,
            default=_seconds(Load.duration),
            show_default=True,
            help="Measured interval, after warm-up (30s, 2m, 1h).",
        ),
    ),
    "warmup": (
        ("--warmup",),
        dict(
            type=DURATION,
            default=_seconds(Load.warmup),
            show_default=True,
            help="Load before measuring, excluded from results.",
        ),
    ),
    "repeat": (
        ("--repeat",),
        dict(
            type=int,
            default=RunConfig.repeat,
            show_default=True,
            help="Repetitions of every cell, interleaved A B A B.",
        ),
    ),
    "processes": (
        ("--processes",),
        dict(type=int, default=Load.processes, show_default=True, help="Locust worker processes."),
    ),
    "think_ms": (
        ("--think-ms",),
        dict(
            type=float,
            default=Load.think_ms,
            show_default=True,
            help="Think time between a user's requests.",
        ),
    ),
    # pinning
    "server_cpus": (
        ("--server-cpus",),
        dict(
            default=None,
            help="CPUs for the server side, e.g. 1 or 2-3. Default: all but the first.",
        ),
    ),
    "generator_cpus": (
        ("--generator-cpus",),
        dict(default=None, help="CPUs for Locust, e.g. 0. Default: the first quarter."),
    ),
    "no_pin": (("--no-pin",), dict(is_flag=True, help="Do not pin server and generator to CPUs.")),
    # distribution
    "expect_workers": (
        ("--expect-workers",),
        dict(
            type=int,
            default=Distribution.expect_workers,
            help="Wait for N Locust workers started elsewhere with 'bench.py worker'.",
        ),
    ),
    "master_bind": (
        ("--master-bind",),
        dict(
            default="{}:{}".format(*Distribution.master_bind),
            show_default=True,
            help="Where the Locust master listens for --expect-workers.",
        ),
    ),
    # output
    "out": (
        ("--out",),
        dict(
            type=click.Path(path_type=Path),
            default=RunConfig.out,
            show_default=True,
            help="Where run folders go.",
        ),
    ),
    "name": (("--name",), dict(default=None, help="Run name (part of the folder name).")),
}

APP_ENV = ("app_python", "env", "env_file")
SUBJECT = (
    "target",
    "scenario",
    "app",
    "app_dir",
    *APP_ENV,
    "routes",
    "exclude",
    "host",
    "allow_remote",
)
SERVING = ("server", "workers", "threads", "instances", "balance", "upstream_keepalive", "redis")
DATABASE = ("database", "database_url", "db_pool")
LOAD = (
    "users",
    "spawn_rate",
    "rate",
    "shape",
    "duration",
    "warmup",
    "repeat",
    "processes",
    "think_ms",
)
PINNING = ("server_cpus", "generator_cpus", "no_pin")
DISTRIBUTION = ("expect_workers", "master_bind")
OUTPUT = ("out", "name")
RUN = (*SUBJECT, *SERVING, *DATABASE, *LOAD, *PINNING, *DISTRIBUTION, *OUTPUT)


def use_options(*names: str, **defaults: Any) -> Decorator:
    """Decorate a command with the named options, in order; ``defaults`` overrides some."""
    unknown = [n for n in (*names, *defaults) if n not in OPTIONS]
    if unknown:
        raise KeyError(f"no such option: {unknown}")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(names):
            flags, kwargs = OPTIONS[name]
            if name in defaults:
                kwargs = {**kwargs, "default": defaults[name], "show_default": True}
            func = click.option(*flags, **kwargs)(func)
        return func

    return decorate


run_options = use_options(*RUN)
