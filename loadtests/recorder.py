"""The latency recorder: exact per-request durations into per-second HdrHistograms.

Imported by every locustfile (importing it registers its Locust event listeners and
command-line options). See ``docs/architecture.md``, "The recorder", for the file it
writes; ``loadtests/recording.py`` is the only writer of ``recorder.json``.

Data flow:

- every process that runs users (local runner or worker) records each request's
  exact ``response_time`` (float ms) into an in-memory histogram of its endpoint and
  of the unix second the response completed in; failures are counted per status and
  responses marked ``X-Bench-Profiled: 1`` are counted, both kept out of the
  histograms. Nothing is encoded on the hot path.
- a worker ships what it recorded since its last report with every Locust report
  (``report_to_master``, every 3 s), as encoded histograms, and forgets it; the
  master decodes and adds (``worker_report``): merging is exact.
- when the test stops, the master first asks every worker to stop its users and send
  a final report (custom message ``bench_stop``) and waits for all of them (Locust's
  own quit path only waits 0.5 s and its stop path sends nothing at all), then the
  master (or the local runner) writes ``recorder.json`` atomically.

Open model (``--bench-rate R``): see ``loadtests/openmodel.py``; its latencies from the
intended send time arrive here through the request ``context`` (``bench_intended``).

Options it adds to Locust (``--bench-out DIR`` ...): ``loadtests/options.py``. The
per-process state, the wire format between worker and master and ``recorder.json`` itself:
``loadtests/recording.py``; this module wires them to Locust's events.

Windows are keyed by the second the response *completed* in. Failure keys: the HTTP
status for 4xx/5xx answers, else the exception class (``CatchResponseError`` for an
answer a check rejected, ``ConnectionRefusedError`` ...). ``locust_totals`` are
Locust's own counts, for cross-checking: per endpoint, ``requests`` == sum of
``count`` + failures + ``profiled`` over all windows (not with ``--reset-stats``).
A window's ``dropped`` counts the open-model requests dropped in that second (summed over
processes; no endpoint is chosen yet when a slot is dropped).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from typing import Any

import gevent
from locust import events
from locust.runners import (
    STATE_RUNNING,
    STATE_SPAWNING,
    MasterRunner,
    WorkerRunner,
)

from loadtests import openmodel
from loadtests.options import option
from loadtests.recording import Recorder

STOP_MESSAGE = "bench_stop"  # master -> worker: stop users, send a final report
REPORT_KEY = "bench"  # our part of a worker's report_to_master data
COMPACT_AFTER_S = 3  # windows older than this many seconds are kept encoded
FINAL_REPORT_GRACE_S = 10.0  # beyond --stop-timeout, how long the master waits for workers

logger = logging.getLogger("loadtests.recorder")

_time = time.time


RECORDER = Recorder()


def _on_request(**kw: Any) -> None:
    RECORDER.on_request(**kw)


events.request.add_listener(_on_request)


# --------------------------------------------------------------------------- lifecycle


def _ticker(rec: Recorder) -> None:
    """Once a second: note the user count, keep old windows encoded (bounded memory)."""
    while True:
        now = _time()
        runner = rec.environment.runner
        if runner is not None and rec.role != "worker":
            rec.users[int(now)] = int(runner.user_count)
        if rec.role == "master" and runner is not None:
            # each worker's own CPU, as its heartbeats report it (remote machines included)
            rec.worker_cpu[int(now)] = {
                str(cid): float(getattr(node, "cpu_usage", 0) or 0)
                for cid, node in list(runner.clients.items())
            }
        if rec.role == "worker" and runner is not None:
            # the heartbeat carries runner.current_cpu_usage, which Locust itself samples
            # only every 10 s (CPU_MONITOR_INTERVAL; 0 until then): sample it every second
            runner.current_cpu_usage = rec.own_process.cpu_percent()
        rec.compact(int(now) - COMPACT_AFTER_S)
        gevent.sleep(1.0 - (now % 1.0) + 0.01)


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_kw: Any) -> None:
    rec = RECORDER
    rec.environment = environment
    runner = runner or environment.runner
    if isinstance(runner, MasterRunner):
        rec.role = "master"
    elif isinstance(runner, WorkerRunner):
        rec.role = "worker"
    else:
        rec.role = "local"
    rate = float(option(environment, "bench_rate", 0.0) or 0.0)
    if rate < 0:
        sys.stderr.write("--bench-rate must be >= 0 (0: closed model)\n")
        sys.exit(2)
    if rate > 0:
        closed = [
            u.__name__ for u in environment.user_classes if not getattr(u, "open_model_ok", False)
        ]
        if closed:
            sys.stderr.write(
                f"--bench-rate: user class {closed[0]} keeps per-user state (a session) and "
                "cannot run on the open model; use an endpoint scenario (loadtests/endpoints.py)\n"
            )
            sys.exit(2)
    from loadtests import shapes

    shape = shapes.make_shape(option(environment, "bench_shape", "constant"), environment)
    if shape is not None:
        environment.shape_class = shape
        shape.runner = runner
    if runner is not None and rec.role == "worker":
        runner.register_message(STOP_MESSAGE, _on_stop_message)
    # registered now, after the runner's own quitting listener: quitting fires in reverse
    # order, so a worker sends its final report before Locust tells the master it quit
    environment.events.quitting.add_listener(_on_quitting)
    # gevent's loop caches its clock, and a slow start (imports on a busy machine) leaves
    # it seconds stale: Locust arms its --run-time timer right after this event, which
    # then fired that much early (a 4 s run stopping after 0.3 s). Refresh the clock.
    gevent.get_hub().loop.update_now()


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kw: Any) -> None:
    rec = RECORDER
    per_test = option(environment, "bench_per_test", False)
    if per_test or rec.start_unix is None:
        rec.reset()
        rec.test_number += 1
        rec.start_unix = _time()
    rec.end_unix = None
    runner = environment.runner
    if rec.role == "master":
        ids = sorted(c.id for c in runner.clients.values())
        slots = {cid: k for k, cid in enumerate(ids)}
        environment.parsed_options.bench_slots = slots  # reaches workers with "spawn"
        rec.processes = max(1, len(slots))
        rec._final_from = set()
    else:
        processes, index = 1, 0
        if rec.role == "worker":
            slots = option(environment, "bench_slots", None) or {}
            processes = max(1, len(slots))
            index = slots.get(runner.client_id, getattr(runner, "worker_index", 0)) % processes
        rec.processes = processes
        openmodel.start_schedule(
            environment, rec.open, processes=processes, index=index, on_drop=rec.on_drop
        )
    if rec._ticker is None or rec._ticker.dead:
        rec._ticker = gevent.spawn(_ticker, rec)


@events.test_stopping.add_listener
def _on_test_stopping(environment: Any, **_kw: Any) -> None:
    rec = RECORDER
    if rec.role != "master":
        openmodel.stop_scheduling()
        return
    if rec._awaiting_finals:
        return
    runner = environment.runner
    pending = {c.id for c in runner.clients.values()}
    if not pending:
        return
    rec._awaiting_finals = True
    try:
        for cid in pending:
            runner.send_message(STOP_MESSAGE, None, cid)
        deadline = time.monotonic() + float(environment.stop_timeout or 0) + FINAL_REPORT_GRACE_S
        while time.monotonic() < deadline:
            live = {c.id for c in runner.clients.values()}
            if not (pending & live) - rec._final_from:
                break
            gevent.sleep(0.05)
        else:
            missing = sorted((pending & {c.id for c in runner.clients.values()}) - rec._final_from)
            logger.error(
                "recorder: no final report from workers %s; their last data is lost", missing
            )
    finally:
        rec._awaiting_finals = False


def _stop_and_flush(environment: Any) -> None:
    """Worker: stop the users, wait for open-model requests, send everything to the master."""
    runner = environment.runner
    if runner.state in (STATE_SPAWNING, STATE_RUNNING):
        runner.stop()
    openmodel.drain(environment)
    data: dict[str, Any] = {}
    environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
    data[REPORT_KEY]["final"] = True
    runner.send_message("stats", data)


def _on_stop_message(environment: Any, msg: Any, **_kw: Any) -> None:
    _stop_and_flush(environment)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_kw: Any) -> None:
    rec = RECORDER
    if rec.role == "worker":
        return
    if rec.role == "local":
        openmodel.drain(environment)
    rec.end_unix = _time()
    if rec._ticker is not None:
        rec._ticker.kill(block=False)
        rec._ticker = None
    rec.write()


def _on_quitting(environment: Any, **_kw: Any) -> None:
    rec = RECORDER
    if rec.role == "worker":
        with contextlib.suppress(Exception):
            _stop_and_flush(environment)
    elif rec.role == "master" and rec.version != rec.written_version:
        rec.write()  # reports that reached the master after the test stopped


@events.report_to_master.add_listener
def _on_report_to_master(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    data[REPORT_KEY] = RECORDER.take_wire()


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    rec = RECORDER
    payload = data.get(REPORT_KEY)
    if not payload:
        return
    rec.merge_wire(payload)
    if payload.get("final"):
        rec._final_from.add(client_id)
    rec.compact(int(_time()) - COMPACT_AFTER_S - 5)
