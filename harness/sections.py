"""The sections of a run's configuration, each a frozen dataclass with its defaults: what is
measured (Subject), the load, the servers, the database, CPU pinning, profiling and
distribution. ``harness.config.RunConfig`` holds one of each and validates them together.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path


def available_cpus() -> tuple[int, ...]:
    try:
        return tuple(sorted(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return tuple(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the server side and the load generator may use (None: not pinned)."""

    server_cpus: tuple[int, ...] | None
    generator_cpus: tuple[int, ...] | None

    @property
    def enabled(self) -> bool:
        return self.server_cpus is not None

    @classmethod
    def default(cls) -> Pinning:
        """Disjoint CPU sets when the machine has two or more CPUs.

        The generator gets a quarter of the CPUs (at least one), the server side the rest:
        a Locust process is single-threaded, a server with several workers is not.
        """
        cpus = available_cpus()
        if len(cpus) < 2:
            return cls(None, None)
        n_gen = max(1, len(cpus) // 4)
        return cls(server_cpus=cpus[n_gen:], generator_cpus=cpus[:n_gen])

    def to_json(self) -> dict[str, list[int] | None]:
        return {
            "server_cpus": list(self.server_cpus) if self.server_cpus else None,
            "generator_cpus": list(self.generator_cpus) if self.generator_cpus else None,
        }


@dataclass(frozen=True)
class Subject:
    """What is measured: reference targets, the user's app, or a running host."""

    targets: tuple[str, ...] = ("sync",)
    # the user's own app: "module:object" or "module:factory()", imported from app_dir
    app: str | None = None
    app_dir: Path | None = None
    routes_file: Path | None = None  # TOML example values for routes with arguments
    exclude: tuple[str, ...] = ()  # globs of generated routes to leave out
    host: str | None = None  # drive an app that is already running; no server started
    allow_remote: bool = False
    # the app's own interpreter (--app-python, resolved from a venv folder); None: the harness's
    app_python: Path | None = None
    # the server's variables from --env-file then --env (later wins); the user's, never replaced
    env: tuple[tuple[str, str], ...] = ()
    env_file: Path | None = None

    @property
    def label(self) -> str | None:
        """The cell label of a user's app or host (None: the reference targets)."""
        if self.app:
            module = self.app.split(":", 1)[0].rsplit(".", 1)[-1]
            return re.sub(r"[^a-z0-9_]+", "_", module.lower()) or "app"
        if self.host:
            return "host"
        return None


@dataclass(frozen=True)
class Load:
    """What Locust sends: scenarios, users or a rate, shape and timing."""

    scenarios: tuple[str, ...] = ("browse",)
    users: int = 16
    spawn_rate: float | None = None  # None: all users in one second
    rate: float | None = None  # open model: requests per second for the whole generator
    shape: str = "constant"
    duration: float = 30.0
    warmup: float = 5.0
    think_ms: float = 0.0
    processes: int = 1  # Locust worker processes on this machine

    @property
    def effective_spawn_rate(self) -> float:
        return self.spawn_rate if self.spawn_rate is not None else float(self.users)


@dataclass(frozen=True)
class Servers:
    """How the subject is served: server kinds, sizes, proxy and cache."""

    kinds: tuple[str, ...] = ("gunicorn-gthread",)
    workers: int = 2
    threads: int = 8
    instances: int = 1
    balance: str = "round_robin"  # nginx, with --instances > 1
    upstream_keepalive: int = 32  # idle keep-alive connections nginx keeps per worker; 0 = off
    redis: bool = False
    sweep: tuple[tuple[int, int], ...] = ()  # (workers, instances) pairs for the scale suite


@dataclass(frozen=True)
class Database:
    """What the reference targets store their data in."""

    database: str = "sqlite"
    database_url: str | None = None  # an existing PostgreSQL server instead of our own
    # SQLAlchemy pool per worker process: at most this many connections (None: the
    # targets' own 10 + 10 overflow)
    db_pool: int | None = None


@dataclass(frozen=True)
class Profiling:
    enabled: bool = False
    rate: float = 0.05
    overhead: bool = False  # each cell with and without profiling, interleaved
    # requests of each endpoint always profiled first, per worker (None: the target's 50);
    # short runs lower it, or the first requests would all be profiled and none timed
    min_per_endpoint: int | None = None


@dataclass(frozen=True)
class Distribution:
    """Load generators on other machines (``python bench.py worker``)."""

    expect_workers: int = 0
    master_bind: tuple[str, int] = ("127.0.0.1", 5557)
