"""The run orchestrator: config -> servers -> load -> raw data -> summary -> report.

``run_benchmark`` is short on purpose; each step is a function that can be tested
alone. Data is kept whatever happens: ``meta.json`` says ``running`` from the first
moment and ends as ``complete``, ``failed`` or ``interrupted``; ``summary.json``
is rewritten after every cell, so a run that dies half-way keeps what it measured.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cells import Cell, interleave, plan_cells
from harness.config import GENERATED_SCENARIO, RunConfig
from harness.load.loadgen import locust_argv
from harness.load.workload import check_reachable, generate_routes, prepare_workload
from harness.run.databases import cell_database, database_meta, databases_for
from harness.sections import available_cpus
from harness.stack.databases import Databases
from harness.stack.machine import environment, server_environment
from harness.stack.monitor import CpuMonitor
from harness.stack.processes import Child, Supervisor, tail
from harness.stack.server_commands import ServerSpec
from harness.stack.servers import Stack, debug_settings, server_env, start_stack
from runfolder import figures, storage
from runfolder.errors import ProcessError
from runfolder.lifecycle import lifecycle, no_interrupt
from runfolder.window import steady_window
from runfolder.writer import RunWriter

REPO = Path(__file__).resolve().parents[2]
LOCUST_GRACE_S = 60.0


@dataclass
class Progress:
    """Callbacks the CLI uses to show progress; the engine works without them."""

    cell_started: Callable[[int, int, Cell, int, float], None] = lambda *a: None
    tick: Callable[[float], None] = lambda elapsed: None
    cell_finished: Callable[[dict[str, Any]], None] = lambda row: None
    message: Callable[[str], None] = lambda text: None


@dataclass
class RunOutcome:
    run_dir: Path
    status: str
    rows: list[dict[str, Any]]
    error: str | None = None
    report: Path | None = None


Derive = Callable[[Path, bool], "Path | None"]
"""Builds a run folder's derived files (profiles, report) once it is written; returns the
report's path. The CLI hands it in: the engine never imports ``reports``."""


def describe_run(cfg: RunConfig, cells: list[Cell], **extra: Any) -> dict[str, Any]:
    """meta.json's description of a run (beside the writer's own status fields)."""
    if cfg.subject.app:
        extra = {**extra, "server_environment": describe_app_server(cfg)}
    return {
        "profiled": cfg.profiling.enabled or cfg.profiling.overhead,
        "overhead": cfg.profiling.overhead,
        **extra,
        **environment(REPO),
        "pinning": cfg.pinning.to_json(),
        # measured servers never run in debug mode, whatever the environment says
        "debug": debug_settings(False),
        # the kind and pool now; the server's version and settings once it ran
        "database": {"kind": cfg.database.database, "db_pool": cfg.database.db_pool},
        "config": cfg.to_json(),
        "cells": [c.to_json(cfg) for c in cells],
    }


def describe_app_server(cfg: RunConfig) -> dict[str, Any]:
    """The user's app as its server runs it: interpreter, packages, its version, variables."""
    sub = cfg.subject
    assert sub.app is not None
    app_dir = sub.app_dir.resolve() if sub.app_dir else None
    kind = cfg.servers.kinds[0]
    spec = ServerSpec(None, kind, app=sub.app, app_dir=app_dir, python=sub.app_python, env=sub.env)
    given, _ = server_env(spec, database_env={})
    return server_environment(sub.app, app_dir, sub.app_python, given, kind)


def run_benchmark(
    cfg: RunConfig,
    progress: Progress | None = None,
    derive: Derive | None = None,
) -> RunOutcome:
    """Run every cell of ``cfg`` ``cfg.repeat`` times, interleaved; always leaves a
    consistent run folder."""
    progress = progress or Progress()
    cells = plan_cells(cfg)
    if cfg.subject.host:
        check_reachable(cfg.subject.host)  # before the run folder: an unreachable host is bad input
    routes = None
    if cfg.subject.app and GENERATED_SCENARIO in cfg.load.scenarios:
        # before the run folder: a bad --app is bad input
        routes = generate_routes(cfg, progress.message)
    databases = databases_for(cfg, cells)  # before the run folder: a missing server is bad input
    writer = RunWriter.create(cfg.out, cfg.name, describe_run(cfg, cells))
    run_dir = writer.run_dir
    databases.log_dir = run_dir

    def close_databases() -> None:
        writer.update_meta(database=database_meta(cfg, databases))
        databases.close()

    schedule = interleave(cells, cfg.repeat)
    profiled = cfg.profiling.enabled or cfg.profiling.overhead
    with lifecycle(
        writer,
        derive=(lambda d: derive(d, profiled)) if derive is not None else None,
        cleanup=close_databases,
    ) as life:
        if routes is not None:
            storage.write_json(run_dir / "routes.json", routes)
        for index, (cell, rep) in enumerate(schedule):
            total = cfg.load.warmup + cfg.load.duration
            progress.cell_started(index, len(schedule), cell, rep, total)
            row = run_cell(cfg, cell, rep, writer, databases, progress)
            progress.cell_finished(row)
    return RunOutcome(run_dir, life.status, writer.rows, life.error, report=life.report)


def run_cell(
    cfg: RunConfig,
    cell: Cell,
    rep: int,
    writer: RunWriter,
    databases: Databases,
    progress: Progress,
    db_label: str | None = None,
) -> dict[str, Any]:
    """Measure one repetition of one cell; its row is written even when the cell fails."""
    run_dir = writer.run_dir
    cell_dir = run_dir / "cells" / cell.cell_id / f"r{rep}"
    cell_dir.mkdir(parents=True)
    pin = cfg.pinning
    failure: BaseException | None = None
    with Supervisor() as sup:
        db_env = cell_database(cfg, cell, databases, db_label or f"{cell.cell_id}-r{rep}")
        stack = start_cell(sup, cfg, cell, cell_dir, db_env)
        writer.add_commands(stack.commands)
        workload = prepare_workload(cfg, cell, stack, cell_dir, run_dir)
        argv = locust_argv(
            scenario=cell.scenario,
            locustfile=workload.locustfile,
            user_classes=workload.user_classes,
            extra=workload.extra_args,
            host=stack.url,
            out_dir=cell_dir,
            users=cfg.load.users,
            spawn_rate=cfg.load.effective_spawn_rate,
            warmup=cfg.load.warmup,
            duration=cfg.load.duration,
            shape=cfg.load.shape,
            rate=cfg.load.rate,
            processes=cfg.load.processes,
            think_ms=cfg.load.think_ms,
            expect_workers=cfg.distribution.expect_workers or None,
            master_bind=cfg.distribution.master_bind,
        )
        writer.add_commands([argv])
        locust = sup.start(
            "locust", argv, log_path=cell_dir / "locust.log", cwd=cell_dir, cpus=pin.generator_cpus
        )
        monitor = CpuMonitor(
            lambda: [locust.pid],
            lambda: [c.pid for c in stack.server_side()],
            generator_cpus=cfg.pinning.generator_cpus,
            database_pids=databases.pids,
        )
        monitor.start()
        notes: list[str] = []
        # remote workers join first
        grace = LOCUST_GRACE_S + (600.0 if cfg.distribution.expect_workers else 0.0)
        try:
            seconds = cfg.load.warmup + cfg.load.duration
            notes = wait_for_load(locust, stack, seconds, progress, grace, databases.check_alive)
        except (KeyboardInterrupt, ProcessError) as exc:
            failure = exc
            stop_locust_gracefully(locust)
        finally:
            monitor.stop()
            recorder = read_recorder(cell_dir)
            if recorder is not None:
                monitor.write_csv(cell_dir / "cpu.csv", offset=float(recorder["start_unix"]))
    row = cell_row(cfg, cell, rep, cell_dir, run_dir, recorder)
    if row is not None:
        notes += unprofiled(cell, cell_dir)
        row["warnings"] = [*workload.notes, *notes, *row["warnings"]]
        row["verify"] = workload.verify
        if stack.proxy is not None:
            row["instance_requests"] = instance_requests(cell_dir)
        writer.add_row(row)
    if failure is not None:
        raise failure
    if row is None:
        raise ProcessError(
            f"Locust wrote no results for {cell.cell_id}: {tail(cell_dir / 'locust.log', 1)} "
            f"(full log: {cell_dir / 'locust.log'})"
        )
    return row


def unprofiled(cell: Cell, cell_dir: Path) -> list[str]:
    """A warning when a cell asked to be profiled recorded no profile at all."""
    if not cell.profiled or any((cell_dir / "profiles").glob("*.json")):
        return []
    return [
        "profiling was asked for but no request was profiled (no session in "
        f"{cell_dir / 'profiles'}): the hotspots are empty; see server.log"
    ]


def start_cell(
    sup: Supervisor,
    cfg: RunConfig,
    cell: Cell,
    log_dir: Path,
    database_env: dict[str, str],
    extra_env: dict[str, str] | None = None,
) -> Stack:
    """What a cell measures, started: a reference target or the user's app, or a --host."""
    if cfg.subject.host:
        return Stack(url=cfg.subject.host.rstrip("/"), server=None)  # type: ignore[arg-type]
    spec = ServerSpec(
        cell.target if cell.reference else None,
        cell.server,
        cell.workers,
        cell.threads,
        app=cfg.subject.app,
        app_dir=cfg.subject.app_dir.resolve() if cfg.subject.app_dir else None,
        python=cfg.subject.app_python,
        env=cfg.subject.env,
    )
    return start_stack(
        sup,
        spec,
        log_dir,
        database_env=database_env,
        cpus=cfg.pinning.server_cpus,
        instances=cell.instances,
        redis=cfg.servers.redis,
        profile_dir=log_dir / "profiles" if cell.profiled else None,
        profile_rate=cfg.profiling.rate if cell.profiled else None,
        balance=cfg.servers.balance,
        keepalive=cfg.servers.upstream_keepalive,
        extra_env=_profile_env(cfg, cell, extra_env),
    )


def _profile_env(cfg: RunConfig, cell: Cell, extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(extra or {})
    if cell.profiled and cfg.profiling.min_per_endpoint is not None:
        env["FLASK_PROFILE_MIN_PER_ENDPOINT"] = str(cfg.profiling.min_per_endpoint)
    return env


def wait_for_load(
    locust: Child,
    stack: Stack,
    seconds: float,
    progress: Progress,
    grace: float = LOCUST_GRACE_S,
    check_database: Callable[[], None] = lambda: None,
) -> list[str]:
    """Wait for Locust to finish; returns notes on instances lost behind the proxy.

    A server dying is an error, except an instance behind nginx while others still
    serve: that is what running several instances is for, so the run goes on and says so.
    """
    start = time.monotonic()
    deadline = start + seconds + grace
    lost: dict[int, str] = {}
    while locust.alive():
        now = time.monotonic()
        progress.tick(min(now - start, seconds))
        check_database()  # a dead database server fails every request that follows
        dead = stack.dead()
        survivors = [c for c in stack.instances if c.alive()]
        fatal = [c for c in dead if c is stack.proxy or not survivors or stack.proxy is None]
        if fatal:
            raise ProcessError(
                f"{fatal[0].describe_exit()} during the run: {tail(fatal[0].log_path, 1)}"
            )
        for child in dead:
            if child.pid not in lost:
                lost[child.pid] = (
                    f"{child.describe_exit()} {now - start:.0f}s into the run; "
                    f"{len(survivors)} instance(s) kept serving behind nginx"
                )
                progress.message(f"warning: {lost[child.pid]}")
        if now > deadline:
            raise ProcessError(
                f"Locust did not finish within {seconds + grace:.0f}s; see {locust.log_path}"
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            locust.popen.wait(timeout=0.25)
    progress.tick(seconds)
    return list(lost.values())


def instance_requests(cell_dir: Path) -> dict[str, int]:
    """Requests each instance served, from nginx's access log."""
    from harness.stack.nginx_log import requests_per_upstream

    logs = sorted(cell_dir.glob("*access*.log"))
    counts: dict[str, int] = {}
    for log in logs:
        for upstream, n in requests_per_upstream(log).items():
            counts[upstream] = counts.get(upstream, 0) + n
    return counts


def stop_locust_gracefully(locust: Child, grace: float = 15.0) -> None:
    """SIGTERM lets Locust stop its users and the recorder write what it has."""
    if not locust.alive():
        return
    with no_interrupt():
        locust.signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            locust.popen.wait(timeout=grace)


def read_recorder(cell_dir: Path) -> dict[str, Any] | None:
    path = cell_dir / "recorder.json"
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except json.JSONDecodeError:
        return None


def cell_row(
    cfg: RunConfig,
    cell: Cell,
    rep: int,
    cell_dir: Path,
    run_dir: Path,
    recorder: dict[str, Any] | None,
) -> dict[str, Any] | None:
    if recorder is None:
        return None
    window = steady_window(recorder, cfg.load.warmup, cfg.load.duration)
    figures.write_timeseries(cell_dir / "timeseries.csv", recorder, window)
    measured = figures.summarize_cell(
        recorder,
        figures.read_cpu(cell_dir / "cpu.csv"),
        warmup=cfg.load.warmup,
        duration=cfg.load.duration,
        processes=cfg.load.processes,
        generator_cpus=len(cfg.pinning.generator_cpus or available_cpus()),
    )
    identity = {
        "cell_id": cell.cell_id,
        "repetition": rep,
        "dir": str(cell_dir.relative_to(run_dir)),
        "target": cell.target,
        "server": cell.server,
        "scenario": cell.scenario,
        "workers": cell.workers,
        "threads": cell.threads,
        "instances": cell.instances,
        "users": cfg.load.users,
        "rate": cfg.load.rate,
        "shape": cfg.load.shape,
        "processes": cfg.load.processes,
        "profiled": cell.profiled,
        "duration_s": cfg.load.duration,
        "warmup_s": cfg.load.warmup,
        **({"side": cell.side} if cell.side else {}),
    }
    return {**identity, **measured}
