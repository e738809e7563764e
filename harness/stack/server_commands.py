"""What to serve (``ServerSpec``) and the command line of each server kind: Werkzeug,
gunicorn (sync, gthread, gevent), waitress, granian and uWSGI. ``harness.stack.servers``
starts them, with what they need, as a ``Stack``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from harness.config import SERVERS, TARGETS
from harness.stack.appenv import launcher
from harness.stack.processes import LOOPBACK
from runfolder.errors import ConfigError

TIMED_APP = "profiles.timed_app:create_app()"  # a user's app with Server-Timing added


@dataclass(frozen=True)
class ServerSpec:
    """How to serve one target: which app, which server kind, how many workers."""

    target: str | None  # a reference target id, or None with ``app`` set
    server: str = "gunicorn-gthread"
    workers: int = 2
    threads: int = 8
    app: str | None = None  # "module:object" or "module:factory()" for a user's own app
    app_dir: Path | None = None
    timing: bool = True  # Server-Timing on every response (profiles/timing.py)
    python: Path | None = None  # the app's own interpreter (--app-python); None: the harness's
    env: tuple[tuple[str, str], ...] = ()  # --env / --env-file: the user's variables, they win

    def __post_init__(self) -> None:
        if self.server not in SERVERS:
            raise ConfigError(f"--server: unknown value '{self.server}'")
        if self.target is None and self.app is None:
            raise ConfigError("either --target or --app is needed")
        if self.target is not None and self.target not in TARGETS:
            raise ConfigError(f"--target: unknown value '{self.target}'")

    @property
    def app_spec(self) -> str:
        """The import string servers take, e.g. ``targets.sync_app:create_app()``."""
        if self.app:
            return TIMED_APP  # Server-Timing and the profiler, each when asked for
        return f"targets.{self.target}_app:create_app()"


def server_argv(spec: ServerSpec, port: int, host: str = LOOPBACK) -> list[str]:
    """The command line that serves ``spec`` on ``host:port``."""
    bin_dir = Path(sys.executable).parent
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def program(module: str, script: str) -> list[str]:
        """``module`` run by the app's interpreter, else the harness's ``script``."""
        if spec.python is not None:
            return launcher(spec.python, spec.server, module)
        return [sys.executable, "-m", module] if script == "-m" else [str(bin_dir / script)]

    if spec.server == "werkzeug":
        return [
            *program("flask", "-m"),
            "--app",
            spec.app_spec,
            "run",
            "--host",
            host,
            "--port",
            str(port),
            "--no-reload",
            "--no-debugger",
            "--with-threads",
        ]
    if spec.server == "granian":
        return granian_argv(spec, bin_dir, host, port)
    if spec.server == "uwsgi":
        return uwsgi_argv(spec, bin_dir, bind)
    if spec.server == "waitress":
        module, _, obj = spec.app_spec.partition(":")
        call = obj.endswith("()")
        argv = [
            *program("waitress", "waitress-serve"),
            f"--listen={bind}",
            f"--threads={spec.threads}",
        ]
        if call:
            argv += ["--call", f"{module}:{obj[:-2]}"]
        else:
            argv.append(spec.app_spec)
        return argv
    worker_class = spec.server.removeprefix("gunicorn-")
    argv = [
        *program("gunicorn", "gunicorn"),
        "--bind",
        bind,
        "--workers",
        str(spec.workers),
        "--worker-class",
        worker_class,
        "--graceful-timeout",
        "3",
        "--timeout",
        "60",
        "--backlog",
        "2048",
    ]
    if worker_class == "gthread":
        argv += ["--threads", str(spec.threads)]
    if worker_class == "gevent":
        argv += ["--worker-connections", "1000"]
    argv.append(spec.app_spec)
    return argv


def _factory(app_spec: str) -> tuple[str, bool]:
    """``module:create_app()`` -> (``module:create_app``, True); ``module:app`` -> (…, False)."""
    return (app_spec[:-2], True) if app_spec.endswith("()") else (app_spec, False)


def granian_argv(spec: ServerSpec, bin_dir: Path, host: str, port: int) -> list[str]:
    """granian's WSGI interface: ``--blocking-threads`` are the threads that run the app."""
    target, factory = _factory(spec.app_spec)
    argv = [
        str(bin_dir / "granian"),
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(spec.workers),
        "--blocking-threads",
        str(spec.threads),
        "--backlog",
        "2048",
        "--no-ws",
    ]
    if factory:
        argv.append("--factory")
    return [*argv, target]


UWSGI_LISTEN = 2048  # uWSGI refuses a backlog above net.core.somaxconn


def uwsgi_argv(spec: ServerSpec, bin_dir: Path, bind: str) -> list[str]:
    """uWSGI's native HTTP socket, each worker loading the app itself (``--lazy-apps``, as
    gunicorn does), SIGTERM stopping it.

    The connection closes after each response, as with gunicorn's sync workers: uWSGI's
    keep-alive socket (``--http11-socket``) holds a thread on every idle connection, so
    with more clients than threads a request waits for another client's connection to
    time out (4 s), which measures the timeout, not the server.
    """
    return [
        str(bin_dir / "uwsgi"),
        "--http-socket",
        bind,
        "--module",
        spec.app_spec,  # uWSGI calls a ``factory()`` itself
        "--master",
        "--processes",
        str(spec.workers),
        "--threads",
        str(spec.threads),
        "--enable-threads",  # the profiler's and Server-Timing's threads need the GIL released
        "--lazy-apps",
        "--need-app",
        "--die-on-term",
        "--disable-logging",  # no access log line per request, like gunicorn's default
        # say so: without it a client keeps the connection and its next request is reset
        "--add-header",
        "Connection: close",
        "--buffer-size",
        "32768",  # session cookies and long query strings
        "--listen",
        str(_listen_backlog()),
    ]


def _listen_backlog() -> int:
    try:
        limit = int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        limit = 128
    return min(UWSGI_LISTEN, limit)
