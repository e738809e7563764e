"""The worker command: join a run started elsewhere with --expect-workers."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.console import console
from harness.cli.options import use_options
from harness.config import parse_host_port
from runfolder.errors import ConfigError, HarnessError


@click.command("worker")
@click.option("--master", "master", required=True, help="HOST:PORT of the master's Locust port.")
@click.option("--scenario", default="browse", show_default=True)
@use_options("processes")
def worker_command(master: str, scenario: str, processes: int) -> None:
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
