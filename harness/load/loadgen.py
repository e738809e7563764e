"""Locust's command lines, for a measured cell, the dashboard and a remote worker.

The only place that knows Locust's flags.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from harness.sections import Distribution
from loadtests.catalog import SCENARIOS, locustfile_path


def locust_executable() -> str:
    return str(Path(sys.executable).parent / "locust")


def locust_argv(
    *,
    scenario: str,
    host: str,
    out_dir: Path,
    users: int,
    spawn_rate: float,
    warmup: float,
    duration: float,
    shape: str = "constant",
    rate: float | None = None,
    processes: int = 1,
    think_ms: float = 0.0,
    locustfile: str | None = None,
    user_classes: tuple[str, ...] | None = None,
    extra: tuple[str, ...] = (),
    expect_workers: int | None = None,
    master_bind: tuple[str, int] | None = None,
) -> list[str]:
    """Headless Locust for ``warmup + duration`` seconds, recorder writing into ``out_dir``."""
    if locustfile is None:
        spec = SCENARIOS[scenario]
        locustfile = str(locustfile_path(scenario))
        user_classes = tuple(spec.user_classes)
    out_dir = out_dir.resolve()  # Locust runs with the cell folder as working directory
    argv = [locust_executable(), "-f", str(locustfile)]
    argv += list(user_classes or ())
    argv += [
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        f"{spawn_rate:g}",
        "--run-time",
        f"{math.ceil(warmup + duration)}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(out_dir / "locust"),
        "--csv-full-history",
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--bench-out",
        str(out_dir),
        "--bench-warmup",
        f"{warmup:g}",
        "--bench-shape",
        shape,
    ]
    argv += list(extra)
    if rate:
        argv += ["--bench-rate", f"{rate:g}"]
    if think_ms:
        argv += ["--bench-think-ms", f"{think_ms:g}"]
    if expect_workers:
        host_, port = master_bind or Distribution.master_bind
        argv += [
            "--master",
            "--expect-workers",
            str(expect_workers),
            "--master-bind-host",
            host_,
            "--master-bind-port",
            str(port),
        ]
    elif processes > 1:
        # Locust's master would bind every interface on 5557: keep it on loopback, on a
        # free port, so parallel runs on one machine never collide
        from harness.stack.processes import free_port

        free = str(free_port())
        argv += [
            "--processes",
            str(processes),
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            free,
            "--master-port",
            free,
        ]
    return argv


def locust_web_argv(
    *,
    locustfile: str,
    user_classes: tuple[str, ...],
    extra: tuple[str, ...],
    host: str,
    web_port: int,
    users: int,
    spawn_rate: float,
    tests_dir: Path,
    processes: int = 1,
) -> list[str]:
    """Locust's web UI on 127.0.0.1, the recorder writing one folder per test started."""
    argv = [
        locust_executable(),
        "-f",
        locustfile,
        *user_classes,
        *extra,
        "--host",
        host,
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(web_port),
        "--users",
        str(users),
        "--spawn-rate",
        f"{spawn_rate:g}",
        "--bench-out",
        str(tests_dir),
        "--bench-per-test",
    ]
    if processes > 1:
        argv += ["--processes", str(processes)]
    return argv


def locust_worker_argv(
    scenario: str, master_host: str, master_port: int, processes: int = 1
) -> list[str]:
    """A Locust worker joining a master elsewhere (``python bench.py worker``)."""
    spec = SCENARIOS[scenario]
    argv = [
        locust_executable(),
        "-f",
        str(locustfile_path(scenario)),
        *spec.user_classes,
        "--worker",
        "--master-host",
        master_host,
        "--master-port",
        str(master_port),
    ]
    if processes > 1:
        argv += ["--processes", str(processes)]
    return argv
