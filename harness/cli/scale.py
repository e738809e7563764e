"""The scale command: the scaling curve over worker and instance counts."""

from __future__ import annotations

from typing import Any

import click

from harness.cli.configure import config_from_options
from harness.cli.console import execute_run, print_scaling
from harness.cli.options import OUTPUT, PINNING, use_options
from runfolder.errors import ConfigError


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option}: '{text}' is not a list of numbers; use e.g. 1,2,4") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"{option}: values must be whole numbers > 0, e.g. 1,2,4")
    return values


@click.command("scale")
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
def scale_command(workers_list: str, instances_list: str, **opts: Any) -> None:
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
