"""The raw profile-session format: the one module that writes and reads it.

The middleware (``profiles.middleware``) hands each profiled request to a
``SessionSink`` as a ``SessionRecord``; the sink encodes buffered records into one
file with shared frame and stack tables and writes it atomically, never over an
existing file. The aggregation (``profiles.stacks``, ``profiles.aggregate``) finds
and reads those files with ``raw_session_files`` and ``read_raw``. Keeping both sides
here means a change to the format is made, and its version bumped, in one place.
The format is described in ``profiles/README.md``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RAW_FORMAT_VERSION = 1
RAW_KIND = "flask-bench-profile-sessions"
# pyinstrument's default 1 ms would leave most sub-millisecond requests without a
# sample; at 100 µs a profiled gunicorn worker was measured here spending its whole core
# on the sampler (9 requests in 3 s instead of 263 at 300 µs, memory growing 50 MB/s)
DEFAULT_INTERVAL = 0.0003


@dataclass
class SessionRecord:
    """One profiled request, as buffered until the flusher writes it."""

    endpoint: str
    start: float
    wall_ms: float
    cpu_ms: float
    status: int | None
    forced: bool
    is_async: bool
    root: int  # frames above (and including) the middleware's own frame
    duration: float
    samples: list[tuple[list[str], float]]


def encode(
    records: list[SessionRecord], interval: float, mode: str, endpoints: dict[str, Any]
) -> dict[str, Any]:
    """One file's document: each distinct frame and stack stored once, sessions index them."""
    frames: dict[str, int] = {}
    stacks: dict[tuple[int, ...], int] = {}
    sessions = []
    for rec in records:
        samples = []
        for stack, seconds in rec.samples:
            key = tuple(frames.setdefault(f, len(frames)) for f in stack)
            samples.append([stacks.setdefault(key, len(stacks)), round(seconds, 7)])
        sessions.append(
            {
                "endpoint": rec.endpoint,
                "start": rec.start,
                "duration": round(rec.duration, 7),
                "wall_ms": round(rec.wall_ms, 4),
                "cpu_ms": round(rec.cpu_ms, 4),
                "status": rec.status,
                "forced": rec.forced,
                "async": rec.is_async,
                "root": rec.root,
                "samples": samples,
            }
        )
    return {
        "format_version": RAW_FORMAT_VERSION,
        "kind": RAW_KIND,
        "pid": os.getpid(),
        "written": time.time(),
        "interval": interval,
        "mode": mode,
        "sys_path": [p or os.getcwd() for p in sys.path],
        "endpoints": endpoints,
        "frames": list(frames),
        "stacks": [list(s) for s in stacks],
        "sessions": sessions,
    }


class SessionSink:
    """Per-process buffer of profiled requests, written to ``out_dir`` off the request path."""

    def __init__(
        self,
        out_dir: Path,
        flush_interval: float,
        interval: float,
        stats: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.stats = stats
        self.flush_interval = flush_interval
        self.interval = interval
        self._lock = threading.RLock()  # a SIGTERM flush may interrupt add()
        self._flush_lock = threading.Lock()
        self._buffer: list[SessionRecord] = []
        self._pid = -1
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.mode = ""

    def add(self, record: SessionRecord) -> None:
        with self._lock:
            self._buffer.append(record)
        if self._pid != os.getpid():
            self._start_thread()

    def _start_thread(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._seq = 0
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, name="bench-profile-flusher", daemon=True
            )
            self._thread.start()

    def after_fork(self) -> None:
        """A forked child inherits neither the flusher thread nor the parent's buffer."""
        self._lock = threading.RLock()  # a SIGTERM flush may interrupt add()
        self._flush_lock = threading.Lock()
        self._buffer = []
        self._thread = None
        self._pid = -1

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self.flush_interval):
            try:
                self.flush()
            except Exception:  # never let the flusher die silently mid-run
                log.exception("profiling: could not write sessions to %s", self.out_dir)

    def flush(self, timeout: float = -1) -> Path | None:
        """Write buffered sessions as one file; returns its path (None: nothing to write)."""
        if not self._flush_lock.acquire(timeout=timeout):
            return None
        try:
            with self._lock:
                records, self._buffer = self._buffer, []
            if not records:
                return None
            return self._write(records)
        finally:
            self._flush_lock.release()

    def stop(self) -> None:
        """Stop the flusher thread and write what is left (atexit, tests)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1)
        self._thread = None
        self._pid = -1
        self.flush(timeout=5)

    def _write(self, records: list[SessionRecord]) -> Path:
        doc = encode(records, self.interval, self.mode, self.stats() if self.stats else {})
        pid = os.getpid()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{pid}-", suffix=".tmp", dir=self.out_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, separators=(",", ":"))
            os.chmod(tmp, 0o644)
            while True:  # never overwrite: a pid can be reused by a later worker
                final = self.out_dir / f"{pid}-{self._seq:05d}.json"
                self._seq += 1
                try:
                    os.link(tmp, final)
                    return final
                except FileExistsError:
                    continue
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def raw_session_files(run_dir: Path) -> dict[str, list[Path]]:
    """cell_id -> raw session files of every repetition."""
    found: dict[str, list[Path]] = {}
    cells = run_dir / "cells"
    if not cells.is_dir():
        return found
    for cell_dir in sorted(p for p in cells.iterdir() if p.is_dir()):
        files = sorted(cell_dir.glob("r*/profiles/*.json"))
        if files:
            found[cell_dir.name] = files
    return found


def read_raw(path: Path) -> dict[str, Any]:
    """One raw session file, checked; raises ValueError when it is not one."""
    with path.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict) or doc.get("kind") != RAW_KIND:
        raise ValueError(f"{path}: not a raw profile session file")
    if doc.get("format_version") != RAW_FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported format_version {doc.get('format_version')}")
    return doc


def iter_pyinstrument_sessions(path: Path) -> Iterator[Any]:
    """Each request of a raw file as a pyinstrument ``Session`` (to render one request)."""
    from pyinstrument.session import Session

    doc = read_raw(path)
    frames, stacks = doc["frames"], doc["stacks"]
    for s in doc["sessions"]:
        records = [([frames[i] for i in stacks[sid]], t) for sid, t in s["samples"]]
        yield Session(
            frame_records=records,
            start_time=s["start"],
            duration=s["duration"],
            min_interval=doc["interval"],
            max_interval=doc["interval"],
            sample_count=len(records),
            start_call_stack=records[0][0][: s["root"]] if records else [],
            target_description=s["endpoint"],
            cpu_time=s["cpu_ms"] / 1000,
            sys_path=doc["sys_path"],
            sys_prefixes=[],
        )
