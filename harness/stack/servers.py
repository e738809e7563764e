"""Start a target with everything it needs: upstream service, optional Redis, the server.

``start_stack`` is the one place that launches a server, with the command line
``harness.stack.server_commands`` gives each kind. It returns a ``Stack`` whose URL is
what the load generator should hit. All processes belong to the caller's
``Supervisor``, so leaving it stops them.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.sections import Servers
from harness.stack.appenv import app_variables
from harness.stack.processes import (
    LOOPBACK,
    Child,
    Supervisor,
    free_port,
    port_in_use,
    require_executable,
    wait_http_ready,
    wait_tcp_ready,
)
from harness.stack.server_commands import ServerSpec, server_argv
from runfolder.errors import ProcessError


@dataclass
class Stack:
    """A running target: its URL and the processes behind it."""

    url: str
    server: Child
    instances: list[Child] = field(default_factory=list)
    upstream: Child | None = None
    redis: Child | None = None
    proxy: Child | None = None
    commands: list[list[str]] = field(default_factory=list)
    instance_urls: list[str] = field(default_factory=list)

    def server_side(self) -> list[Child]:  # empty for an external --host
        """Every process that serves requests (for CPU accounting and crash checks)."""
        procs = [*self.instances]
        if self.proxy:
            procs.append(self.proxy)
        return procs

    def dead(self) -> list[Child]:
        return [c for c in self.server_side() if not c.alive()]


def http_url(host: str, port: int) -> str:
    """Where this machine reaches a server listening on ``host`` (a wildcard: loopback)."""
    host = {"0.0.0.0": LOOPBACK, "::": "::1", "": LOOPBACK}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def start_upstream(sup: Supervisor, log_dir: Path, cpus: tuple[int, ...] | None) -> Child:
    port = free_port()
    child = sup.start(
        "upstream service",
        [sys.executable, "-m", "targets.upstream", "--host", LOOPBACK, "--port", str(port)],
        log_path=log_dir / "upstream.log",
        cpus=cpus,
    )
    child.url = f"http://{LOOPBACK}:{port}"  # type: ignore[attr-defined]
    wait_http_ready(child, f"{child.url}/healthz", timeout=20)  # type: ignore[attr-defined]
    return child


def start_redis(sup: Supervisor, log_dir: Path, cpus: tuple[int, ...] | None) -> Child:
    exe = require_executable("redis-server")
    port = free_port()
    child = sup.start(
        "redis-server",
        [
            exe,
            "--bind",
            LOOPBACK,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        log_path=log_dir / "redis.log",
        cpus=cpus,
    )
    wait_tcp_ready(child, LOOPBACK, port)
    child.url = f"redis://{LOOPBACK}:{port}/0"  # type: ignore[attr-defined]
    return child


DEBUG_HOSTS = ("127.0.0.1", "::1")  # Flask-DebugToolbar answers only these (DEBUG_TB_HOSTS)


def inherited_debug_env() -> tuple[str, ...]:
    """Variables of this environment that would switch a Flask app into debug mode."""
    return tuple(k for k in os.environ if k.startswith("FLASK_DEBUG"))


def debug_settings(debug: bool) -> dict[str, object]:
    """What meta.json records of the servers' debug mode."""
    return {
        "debug_toolbar": debug,
        "debug_tb_hosts": list(DEBUG_HOSTS) if debug else None,
        "inherited_and_removed": sorted(inherited_debug_env()),
    }


HARNESS_DEFAULTS_FOR_APPS = ("FLASK_SECRET_KEY",)
"""What the harness sets for a user's app only when the user did not (see ``server_env``)."""


def user_env(spec: ServerSpec) -> dict[str, str]:
    """The variables the user set for a user's app: inherited, then --env-file and --env."""
    return {**os.environ, **dict(spec.env)}


def server_env(
    spec: ServerSpec,
    *,
    database_env: dict[str, str],
    upstream_url: str | None = None,
    redis_url: str | None = None,
    profile_dir: Path | None = None,
    profile_rate: float | None = None,
    debug: bool = False,
    extra_env: dict[str, str] | None = None,
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The variables a server is given over its inherited environment, and those removed.

    The reference targets get the harness's settings (their database, a shared secret key).
    A user's app is configured the user's way: the harness never sets its database, and a
    variable the user set (in the environment, --env-file or --env) is never replaced; the
    harness adds only a shared ``FLASK_SECRET_KEY`` when none is set (so a login made on one
    worker holds on all) and its own switches (profiling, Server-Timing).
    """
    env: dict[str, str] = {
        # one key for every worker and instance, so a login on one is valid on all
        "FLASK_SECRET_KEY": "k-" + secrets.token_hex(24),
        "PYTHONUNBUFFERED": "1",
    }
    if not spec.app:  # FLASK_DATABASE_URL and its pool (harness/stack/postgres.py)
        env.update(database_env)
    if upstream_url:
        env["FLASK_UPSTREAM_URL"] = upstream_url
    if redis_url:
        env["FLASK_CACHE_REDIS_URL"] = redis_url
    if profile_dir is not None:
        env["FLASK_PROFILE_DIR"] = str(profile_dir)
        if profile_rate is not None:
            env["FLASK_PROFILE_RATE"] = str(profile_rate)
    if debug:
        env["FLASK_DEBUG_TOOLBAR"] = "true"
        env["FLASK_DEBUG_TB_HOSTS"] = json.dumps(list(DEBUG_HOSTS))
    if not spec.timing:
        env["FLASK_SERVER_TIMING"] = "false"
    if extra_env:
        env.update(extra_env)
    # debug mode only when asked for: an inherited (or --env) FLASK_DEBUG* never reaches a server
    drop = inherited_debug_env()
    if spec.app:
        env["BENCH_TIMED_APP"] = spec.app  # read by profiles.timed_app
        mine = user_env(spec)
        for key in HARNESS_DEFAULTS_FOR_APPS:
            if key in mine:
                env.pop(key)
        env.update(app_variables(spec.app_dir, spec.env))
    return env, drop


def start_stack(
    sup: Supervisor,
    spec: ServerSpec,
    log_dir: Path,
    *,
    database_env: dict[str, str],
    cpus: tuple[int, ...] | None = None,
    port: int | None = None,
    instances: int = 1,
    redis: bool = False,
    profile_dir: Path | None = None,
    profile_rate: float | None = None,
    debug: bool = False,
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 60.0,
    balance: str = Servers.balance,
    keepalive: int = Servers.upstream_keepalive,
    bind: str = LOOPBACK,
) -> Stack:
    """Start upstream (+ Redis) and ``instances`` servers of ``spec`` (behind nginx if > 1).

    ``database_env`` tells the targets where their data is (``Databases.env_for``)."""
    if port is not None and port_in_use(port):
        raise ProcessError(
            f"port {port} on {LOOPBACK} is already in use: stop whatever listens there "
            "or choose another with --port"
        )
    commands: list[list[str]] = []
    upstream = start_upstream(sup, log_dir, cpus) if spec.target else None
    if upstream:
        commands.append(upstream.argv)
    redis_child = start_redis(sup, log_dir, cpus) if redis else None
    if redis_child:
        commands.append(redis_child.argv)

    env, drop = server_env(
        spec,
        database_env=database_env,
        upstream_url=upstream.url if upstream else None,  # type: ignore[attr-defined]
        redis_url=redis_child.url if redis_child else None,  # type: ignore[attr-defined]
        profile_dir=profile_dir,
        profile_rate=profile_rate,
        debug=debug,
        extra_env=extra_env,
    )
    cwd = spec.app_dir

    children: list[Child] = []
    urls: list[str] = []
    # one instance listens where asked; several listen on loopback behind nginx, which does
    inst_host = bind if instances == 1 else LOOPBACK
    for i in range(instances):
        inst_port = port if (port is not None and instances == 1) else free_port()
        argv = server_argv(spec, inst_port, host=inst_host)
        name = f"{spec.server} server" + (f" #{i + 1}" if instances > 1 else "")
        log_name = "server.log" if instances == 1 else f"server-{i + 1}.log"
        child = sup.start(
            name, argv, log_path=log_dir / log_name, env=env, cwd=cwd, cpus=cpus, drop_env=drop
        )
        commands.append(argv)
        children.append(child)
        urls.append(http_url(inst_host, inst_port))
    for child, url in zip(children, urls, strict=True):
        wait_http_ready(
            child,
            f"{url}/healthz" if spec.target else url,
            timeout=ready_timeout,
            expect_status=200 if spec.target else None,
        )

    proxy = None
    url = urls[0]
    if instances > 1:
        from harness.stack import nginx

        proxy_port = port if port is not None else free_port()
        ports = [int(u.rsplit(":", 1)[1]) for u in urls]
        conf = nginx.write_nginx_config(
            log_dir, proxy_port, ports, balance=balance, keepalive=keepalive, listen_host=bind
        )
        proxy = nginx.start_nginx(sup, conf, log_dir / "nginx.log", cpus=cpus)
        commands.append(proxy.argv)
        url = http_url(bind, proxy_port)
    return Stack(
        url=url,
        server=proxy or children[0],
        instances=children,
        upstream=upstream,
        redis=redis_child,
        proxy=proxy,
        commands=commands,
        instance_urls=urls,
    )
