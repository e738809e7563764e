"""The latency recorder: exact per-request durations into per-second HdrHistograms.

Imported by every locustfile (importing it registers its Locust event listeners and
command-line options). See ``docs/architecture.md``, "The recorder", for the file it
writes; this module is the only writer of ``recorder.json``.

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

Options it adds to Locust (all also work with plain ``locust -f``):

``--bench-out DIR``        write ``DIR/recorder.json`` at test stop (unset: record, write nothing)
``--bench-rate R``         open model, R req/s for the whole generator (0: closed model)
``--bench-shape NAME``     constant (plain -u/-r/-t), step or spike (``loadtests/shapes.py``)
``--bench-warmup S``       written into recorder.json as ``warmup_s``; nothing is dropped
``--bench-per-test``       every test started (web UI) writes ``DIR/test-NNN/`` afresh
``--bench-think-ms MS``    closed model think time between a user's requests (default 0)
``--bench-max-inflight N`` open model: drop a due request while N are in flight (per process)
``--bench-max-lag-ms MS``  open model: drop a due request when the scheduler is MS behind

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
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import events
from locust.runners import (
    STATE_RUNNING,
    STATE_SPAWNING,
    MasterRunner,
    WorkerRunner,
)

from loadtests import histograms as H
from loadtests import openmodel
from loadtests import servertiming as ST
from loadtests.catalog import SHAPES
from loadtests.entries import OPEN_COUNTERS, Entry, Windows, failure_key
from loadtests.openmodel import INTENDED_KEY

FORMAT_VERSION = 1
PROFILED_HEADER = "X-Bench-Profiled"
STOP_MESSAGE = "bench_stop"  # master -> worker: stop users, send a final report
REPORT_KEY = "bench"  # our part of a worker's report_to_master data
COMPACT_AFTER_S = 3  # windows older than this many seconds are kept encoded
FINAL_REPORT_GRACE_S = 10.0  # beyond --stop-timeout, how long the master waits for workers

logger = logging.getLogger("loadtests.recorder")

_time = time.time


# --------------------------------------------------------------------------- options


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_kw: Any) -> None:
    parser.add_argument(
        "--bench-out",
        default="",
        metavar="DIR",
        help="write recorder.json (per-second HdrHistograms) into DIR when the test stops",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="open model: R requests/s for the whole generator on a fixed schedule, "
        "latency also measured from the intended send time (0: closed model)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-shape",
        choices=SHAPES,
        default="constant",
        help="load shape: constant users, step ramp or spike (uses -u, -r and -t)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-warmup",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="warm-up seconds, only written into recorder.json (the harness excludes them)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-per-test",
        action="store_true",
        default=False,
        help="web UI: every test started writes DIR/test-NNN/recorder.json and starts afresh",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-think-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="closed model: think time between a user's requests (default 0: saturating)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-max-inflight",
        type=int,
        default=1000,
        metavar="N",
        help="open model: a due request is dropped while N are in flight (per process)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-max-lag-ms",
        type=float,
        default=1000.0,
        metavar="MS",
        help="open model: a due request is dropped when the schedule is more than MS behind",
        include_in_web_ui=False,
    )


def option(environment: Any, name: str, default: Any = None) -> Any:
    opts = getattr(environment, "parsed_options", None)
    return getattr(opts, name, default) if opts is not None else default


class Recorder:
    """Per-process state. One instance, ``RECORDER``, driven by Locust's events."""

    def __init__(self) -> None:
        self.environment: Any = None
        self.role = "local"  # local | master | worker
        self.reset()
        self.test_number = 0
        self.first_start_unix: float | None = None
        self._ticker: Any = None
        self.own_process = psutil.Process()
        self._final_from: set[str] = set()
        self._awaiting_finals = False
        self.written_version = -1
        self.version = 0  # bumped when merged data changes (master), to rewrite after quit

    def reset(self) -> None:
        self.windows: Windows = {}
        self.users: dict[int, int] = {}
        self.worker_cpu: dict[int, dict[str, float]] = {}  # master: second -> worker -> %
        self.open = dict.fromkeys(OPEN_COUNTERS, 0)
        self.open_span: list[float | None] = [None, None]
        self.drops: dict[int, int] = {}  # unix second -> open-model requests dropped
        self.start_unix: float | None = None
        self.end_unix: float | None = None
        self.processes = 1
        self._cur_sec = -1
        self._cur: dict[tuple[str, str], Entry] = {}
        self._cur_window: dict[str, Entry] = {}
        self.check_profiled = True
        self.same_clock = ST.same_clock(getattr(self.environment, "host", None))

    # ------------------------------------------------------------------ hot path

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int = 0,
        response: Any = None,
        context: Any = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_kw: Any,
    ) -> None:
        now = _time()
        sec = int(now)
        if sec != self._cur_sec:
            self._cur_sec = sec
            self._cur = {}
            self._cur_window = self.windows.setdefault(sec, {})
        key = (request_type, name)
        entry = self._cur.get(key)
        if entry is None:
            label = f"{request_type} {name}"
            entry = self._cur_window.get(label)
            if entry is None:
                entry = self._cur_window[label] = Entry()
            entry.live()
            self._cur[key] = entry
        intended = context.get(INTENDED_KEY) if context else None
        if exception is not None:
            status = failure_key(response, exception)
            entry.failures[status] = entry.failures.get(status, 0) + 1
            return
        headers = getattr(response, "headers", None) if response is not None else None
        if self.check_profiled and headers is not None and headers.get(PROFILED_HEADER) == "1":
            entry.profiled += 1
            return
        H.record(entry.hist, response_time)
        if intended is not None and start_time is not None:
            H.record(entry.live_corrected(), (start_time - intended) * 1000.0 + response_time)
        timing = headers.get(ST.HEADER) if headers is not None else None
        if timing:
            values = ST.row(timing, response_time, start_time, self.same_clock)
            if values is not None:
                if entry.timing is None:
                    entry.timing = ST.TimingBuffer()
                entry.timing.add(values, response_length or 0)

    def on_drop(self, n: int) -> None:
        """The open model dropped ``n`` due requests just now (see openmodel.py)."""
        sec = int(_time())
        self.drops[sec] = self.drops.get(sec, 0) + n

    # ------------------------------------------------------------------ windows

    def _forget_current(self) -> None:
        self._cur_sec = -1
        self._cur = {}
        self._cur_window = {}

    def compact(self, before_sec: int) -> None:
        for sec, window in self.windows.items():
            if sec < before_sec:
                for entry in window.values():
                    entry.compact()
        if self._cur_sec < before_sec:
            self._forget_current()

    def take_wire(self) -> dict[str, Any]:
        """Everything recorded since the last call, encoded; local state forgotten."""
        windows, self.windows = self.windows, {}
        self._forget_current()
        wire = {
            str(sec): {label: e.to_wire() for label, e in window.items()}
            for sec, window in windows.items()
            if window
        }
        counters = dict(self.open)
        for k in self.open:  # in place: the open-model schedule holds this dict
            self.open[k] = 0
        drops, self.drops = self.drops, {}
        schedule = openmodel.current()
        span = schedule.span() if schedule is not None else None
        return {
            "windows": wire,
            "open": counters,
            "open_span": span,
            "drops": {str(sec): n for sec, n in drops.items()},
        }

    def merge_span(self, span: list[float | None] | None) -> None:
        if not span:
            return
        first, last = span
        if first is not None:
            old = self.open_span[0]
            self.open_span[0] = first if old is None else min(old, first)
        if last is not None:
            old = self.open_span[1]
            self.open_span[1] = last if old is None else max(old, last)

    def merge_wire(self, payload: dict[str, Any]) -> None:
        if (
            payload.get("windows")
            or payload.get("drops")
            or any((payload.get("open") or {}).values())
        ):
            self.version += 1
        for sec_text, window in (payload.get("windows") or {}).items():
            mine = self.windows.setdefault(int(sec_text), {})
            for label, wire in window.items():
                entry = mine.get(label)
                if entry is None:
                    entry = mine[label] = Entry()
                entry.merge_wire(wire)
        for k, n in (payload.get("open") or {}).items():
            self.open[k] = self.open.get(k, 0) + int(n)
        for sec_text, n in (payload.get("drops") or {}).items():
            self.drops[int(sec_text)] = self.drops.get(int(sec_text), 0) + int(n)
        self.merge_span(payload.get("open_span"))

    # ------------------------------------------------------------------ output

    def document(self) -> dict[str, Any]:
        env = self.environment
        start = self.start_unix if self.start_unix is not None else _time()
        base = math.floor(start)
        seconds = sorted(set(self.windows) | set(self.users) | set(self.drops))
        windows = []
        users = None
        for sec in seconds:
            users = self.users.get(sec, users)  # a second the ticker missed: the last count
            endpoints = {}
            for label, e in sorted(self.windows.get(sec, {}).items()):
                hist_text = e.hist_encoded()
                endpoints[label] = {
                    "count": e.count(),
                    "hist": hist_text,
                    "corrected_hist": e.corrected_encoded(),
                    "failures": dict(sorted(e.failures.items())),
                    "profiled": e.profiled,
                }
                if e.timing is not None and e.timing.count:
                    endpoints[label]["timing"] = e.timing.to_wire()
            window: dict[str, Any] = {"t": sec - base, "users": users, "endpoints": endpoints}
            if sec in self.drops:
                window["dropped"] = self.drops[sec]
            windows.append(window)
        rate = float(option(env, "bench_rate", 0.0) or 0.0)
        open_model = None
        if rate > 0:
            late_after_ms = max(1.0, 1000.0 * self.processes / rate)  # see openmodel.py
            if self.role == "local" and openmodel.current() is not None:
                self.merge_span(openmodel.current().span())
            open_model = {
                "rate": rate,
                **self.open,
                "late_after_ms": late_after_ms,
                "started_unix": self.open_span[0],
                "stopped_unix": self.open_span[1],
            }
        totals: dict[str, dict[str, int]] = {}
        runner = getattr(env, "runner", None)
        if runner is not None:
            for (name, method), entry in sorted(runner.stats.entries.items()):
                totals[f"{method} {name}"] = {
                    "requests": int(entry.num_requests),
                    "failures": int(entry.num_failures),
                }
        return {
            "format_version": FORMAT_VERSION,
            "unit": "us",
            "start_unix": start,
            "end_unix": self.end_unix,
            "window_s": 1,
            "warmup_s": float(option(env, "bench_warmup", 0.0) or 0.0),
            "shape": option(env, "bench_shape", "constant"),
            "processes": self.processes,
            "open_model": open_model,
            "windows": windows,
            "worker_cpu": [
                {"t": sec - base, "cpu": cpu} for sec, cpu in sorted(self.worker_cpu.items()) if cpu
            ],
            "locust_totals": totals,
        }

    def out_dir(self) -> Path | None:
        out = option(self.environment, "bench_out", "")
        if not out:
            return None
        path = Path(out)
        if option(self.environment, "bench_per_test", False):
            path = path / f"test-{self.test_number:03d}"
        return path

    def write(self) -> Path | None:
        path = self.out_dir()
        if path is None or self.start_unix is None:
            return None
        doc = self.document()
        path.mkdir(parents=True, exist_ok=True)
        target = path / "recorder.json"
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".recorder.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(doc, fh, separators=(",", ":"))
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.written_version = self.version
        logger.info("recorder: wrote %s", target)
        return target


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
