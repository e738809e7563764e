"""The recorder's per-process state: what one process recorded, merged, and written.

One ``Recorder`` per process (``loadtests.recorder.RECORDER``, driven by Locust's events):
``on_request`` is the hot path (nothing encoded there); ``take_wire`` and ``merge_wire``
are a worker's report and the master's merge of it (encoded histograms, exact);
``document`` and ``write`` make ``recorder.json`` (see ``docs/architecture.md``, "The
recorder"), atomically, in ``--bench-out DIR`` or, with ``--bench-per-test``, in
``DIR/test-NNN/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from loadtests import histograms as H
from loadtests import openmodel
from loadtests import servertiming as ST
from loadtests.entries import OPEN_COUNTERS, Entry, Windows, failure_key
from loadtests.openmodel import INTENDED_KEY
from loadtests.options import option

FORMAT_VERSION = 1
PROFILED_HEADER = "X-Bench-Profiled"

logger = logging.getLogger("loadtests.recorder")

_time = time.time


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
