"""Locust's web dashboard on a target, with every test kept as its own run folder.

Locust runs with its web UI on 127.0.0.1 and the recorder in ``--bench-per-test``
mode: each test started and stopped in the UI leaves ``test-NNN/recorder.json`` in
a staging folder. The harness watches that folder and turns each finished test into
a complete run folder (summary, time series, CPU, report), exactly like ``run`` does.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.cells import Cell, scenario_label
from harness.config import RunConfig
from harness.load.loadgen import locust_web_argv
from harness.load.workload import generate_routes, prepare_workload
from harness.run.databases import cell_database, databases_for
from harness.run.engine import (
    Derive,
    Progress,
    cell_row,
    describe_run,
    start_cell,
)
from harness.stack.monitor import CpuMonitor
from harness.stack.processes import LOOPBACK, Supervisor, free_port, wait_http_ready
from runfolder import storage
from runfolder.errors import HarnessError
from runfolder.writer import RunWriter

DEFAULT_WEB_PORT = 8089


def web_port(preferred: int | None) -> int:
    if preferred is not None:
        if listening(preferred):
            raise HarnessError(
                f"port {preferred} on 127.0.0.1 is already in use: choose another with --web-port"
            )
        return preferred
    return DEFAULT_WEB_PORT if not listening(DEFAULT_WEB_PORT) else free_port()


def listening(port: int) -> bool:
    """Whether something holds ``port`` on 127.0.0.1, judged as Locust will bind it.

    Locust's web server binds with SO_REUSEADDR, so connections a dashboard that just quit
    left in TIME_WAIT do not stop it; a plain bind test (``port_in_use``) fails on them for
    a minute, refusing ``--web-port`` and moving the default off 8089 after every restart.
    """
    with socket.socket(socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return True
        return False


def run_dashboard(
    cfg: RunConfig,
    *,
    port: int | None = None,
    on_ready: Callable[[str, str], None] = lambda web, target: None,
    on_run: Callable[[Path], None] = lambda run_dir: None,
    derive: Derive | None = None,
    progress: Progress | None = None,
    max_seconds: float | None = None,
) -> list[Path]:
    """Serve the dashboard until Ctrl-C (or ``max_seconds``); returns the run folders made."""
    progress = progress or Progress()
    cell = Cell(
        cfg.subject.label or cfg.subject.targets[0],
        "external" if cfg.subject.host else cfg.servers.kinds[0],
        scenario_label(cfg.load.scenarios[0]),
        cfg.servers.workers,
        cfg.servers.threads,
        cfg.servers.instances,
        scenario_arg=cfg.load.scenarios[0],
    )
    made: list[Path] = []
    databases = databases_for(cfg, [cell])
    staging = Path(tempfile.mkdtemp(prefix="flask-bench-dashboard-"))
    databases.log_dir = staging
    try:
        with databases, Supervisor() as sup:
            db_env = cell_database(cfg, cell, databases, cell.cell_id)
            stack = start_cell(sup, cfg, cell, staging, db_env)
            if cfg.subject.app and cell.scenario_arg == "routes":
                storage.write_json(staging / "routes.json", generate_routes(cfg, progress.message))
            workload = prepare_workload(cfg, cell, stack, staging, staging)
            port = web_port(port)
            argv = locust_web_argv(
                locustfile=workload.locustfile,
                user_classes=workload.user_classes,
                extra=workload.extra_args,
                host=stack.url,
                web_port=port,
                users=cfg.load.users,
                spawn_rate=cfg.load.effective_spawn_rate,
                tests_dir=staging / "tests",
                processes=cfg.load.processes,
            )
            locust = sup.start(
                "locust web UI",
                argv,
                log_path=staging / "locust.log",
                cwd=staging,
                cpus=cfg.pinning.generator_cpus,
            )
            web = f"http://127.0.0.1:{port}"
            wait_http_ready(locust, web + "/", timeout=30)
            monitor = CpuMonitor(
                lambda: [locust.pid],
                lambda: [c.pid for c in stack.server_side()],
                generator_cpus=cfg.pinning.generator_cpus,
                database_pids=databases.pids,
            )
            monitor.start()
            on_ready(web, stack.url)
            commands = [*stack.commands, argv]
            deadline = time.monotonic() + max_seconds if max_seconds else None
            try:
                while deadline is None or time.monotonic() < deadline:
                    for run_dir in collect_tests(staging, cfg, cell, monitor, commands):
                        made.append(run_dir)
                        if derive is not None:
                            derive(run_dir, False)
                        on_run(run_dir)
                    dead = stack.dead() + ([locust] if not locust.alive() else [])
                    if dead:
                        raise HarnessError(f"{dead[0].describe_exit()}")
                    time.sleep(0.5)
            finally:
                monitor.stop()
                # a test still running when the user quits: Locust writes it as it stops
                sup.stop(locust)
                for run_dir in collect_tests(staging, cfg, cell, monitor, commands):
                    made.append(run_dir)
                    if derive is not None:
                        derive(run_dir, False)
                    on_run(run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return made


def collect_tests(
    staging: Path, cfg: RunConfig, cell: Cell, monitor: CpuMonitor, commands: list[list[str]]
) -> list[Path]:
    """New run folders for tests the recorder finished since the last look."""
    tests = staging / "tests"
    if not tests.is_dir():
        return []
    marks = staging / ".converted"
    done = {p.name for p in marks.glob("*")} if marks.is_dir() else set()
    new = []
    for recorder_path in sorted(tests.glob("*/recorder.json")):
        test_name = recorder_path.parent.name
        if test_name in done:
            continue
        new.append(convert_test(recorder_path, cfg, cell, monitor, commands))
        (staging / ".converted").mkdir(exist_ok=True)
        (staging / ".converted" / test_name).touch()
    return new


def convert_test(
    recorder_path: Path, cfg: RunConfig, cell: Cell, monitor: CpuMonitor, commands: list[list[str]]
) -> Path:
    """One test from the UI -> one complete run folder."""
    import json

    recorder: dict[str, Any] = json.loads(recorder_path.read_text())
    windows = recorder.get("windows", [])
    span = (max(w["t"] for w in windows) + 1) if windows else 1
    users = max((int(w.get("users") or 0) for w in windows), default=0) or cfg.load.users
    test_cfg = cfg.with_(
        warmup=0.0, duration=float(span), users=users, name=f"dashboard-{cell.target}"
    )
    meta = describe_run(test_cfg, [cell], mode="dashboard")
    writer = RunWriter.create(cfg.out, test_cfg.name, meta)
    writer.add_commands(commands)
    run_dir = writer.run_dir
    cell_dir = run_dir / "cells" / cell.cell_id / "r0"
    cell_dir.mkdir(parents=True)
    shutil.copy2(recorder_path, cell_dir / "recorder.json")
    start = float(recorder["start_unix"])
    end = start + span + 1
    rows = [r for r in monitor.rows if start <= r["t"] <= end]
    snapshot = CpuMonitor(monitor.generator_pids, monitor.server_pids, rows=rows)
    snapshot.write_csv(cell_dir / "cpu.csv", offset=start)
    row = cell_row(test_cfg, cell, 0, cell_dir, run_dir, recorder)
    if row is not None:
        writer.add_row(row)
    writer.finish("complete")
    return run_dir
