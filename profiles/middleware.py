"""Sampled per-request profiling for any Flask app, cheap enough to leave on under load.

``install_profiler(app)`` wraps the app instance's ``full_dispatch_request`` (routing
is done by then, so the endpoint is known) and ``ensure_sync`` (so ``async def``
views are profiled inside their own event loop thread).

Sampling, per worker process and per endpoint (``"<METHOD> <url rule>"``):
the first ``min_per_endpoint`` requests are always profiled, after that each request
is profiled with probability ``rate`` (Bernoulli, ``random.random()``). Random rather
than every n-th request so that work with a period (a cache refreshed every k
requests, a client journey) cannot alias with the sampling. Counters are per process:
with W workers an endpoint gets at least ``W * min_per_endpoint`` profiles when each
worker saw it that often. An unsampled request costs a dict lookup and one
``random()`` call: no profiler object is created.

Each profiled request gets its own pyinstrument ``Profiler`` on the thread that
serves it (pyinstrument samples only the thread that started it):

- threads (Werkzeug, gunicorn sync/gthread): ``async_mode="enabled"``, one profiler
  per request thread; the request profiler is paused while an ``async def`` view runs
  so its context (copied by asgiref into the view's loop) holds no active profiler.
- gevent: every greenlet shares one OS thread and its profile hook, so at most one
  request per process is profiled at a time (a sampled request arriving meanwhile
  passes its turn to the endpoint's next request), with ``async_mode="strict"``:
  when the profiled greenlet blocks, the wait is recorded as ``<out-of-context>``
  under the blocking call instead of other greenlets' frames.
- ``async def`` views: a second profiler runs inside the coroutine, in the loop
  thread, its samples grafted under the request's stack (``profiles.async_views``).

Profiled requests carry the response header ``X-Bench-Profiled: 1``. Their wall time
(``perf_counter``) and CPU time (``time.thread_time`` of the request thread plus the
view's loop thread; under gevent the OS thread is shared, so it includes greenlets
that ran while the request waited) are recorded with the samples.

Sessions are buffered in memory and written by a daemon thread every
``flush_interval`` seconds and at exit (atexit, which gunicorn workers reach on a
graceful stop, plus a SIGTERM handler when the process had none, for the Werkzeug
server). Files are ``<out_dir>/<pid>-<seq>.json``, written atomically by
``profiles.session.SessionSink``; the format is described in ``profiles/README.md``.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from time import perf_counter
from typing import Any

from flask import Flask, request
from pyinstrument import Profiler
from pyinstrument.stack_sampler import timing_overhead

from profiles.async_views import ActiveRequest, AsyncMode, View, wrap_ensure_sync
from profiles.session import DEFAULT_INTERVAL, SessionRecord, SessionSink

log = logging.getLogger(__name__)

HEADER = "X-Bench-Profiled"
DEFAULT_RATE = 0.05
DEFAULT_MIN_PER_ENDPOINT = 50  # so a 30 s browse run gives every busy endpoint >= 50 profiles
DEFAULT_FLUSH_INTERVAL = 2.0
# Profiling may cost an endpoint at most this fraction of its serving time; None: no cap.
DEFAULT_OVERHEAD_BUDGET = 0.04
PLAIN_ALPHA = 0.02
PROFILED_ALPHA = 0.2
UNMATCHED = "<unmatched>"
EXTENSION_KEY = "bench_profiler"


def endpoint_label(method: str, rule: str | None) -> str:
    """The contract's endpoint name: ``"GET /api/items/<int:item_id>"``."""
    return f"{method} {rule if rule is not None else UNMATCHED}"


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey is not None and monkey.is_module_patched("threading"))


@dataclass
class _Endpoint:
    label: str
    rate: float  # effective rate: PROFILE_RATE, lowered to keep within the cost budget
    seen: int = 0
    profiled: int = 0
    pending: int = 0  # turns owed: sampled while the profiling slot was busy (gevent)
    plain_s: float = 0.0  # moving average wall time of unprofiled requests (0: none yet)
    profiled_s: float = 0.0  # same, profiled requests


class RequestProfiler:
    """The installed middleware: sampling decision, profiler lifecycle, buffering."""

    def __init__(
        self,
        app: Flask,
        out_dir: Path,
        rate: float,
        min_per_endpoint: int,
        interval: float,
        flush_interval: float,
        overhead_budget: float | None = DEFAULT_OVERHEAD_BUDGET,
    ) -> None:
        if not 0 <= rate <= 1:
            raise ValueError(f"PROFILE_RATE must be within [0, 1] (got {rate})")
        if min_per_endpoint < 0:
            raise ValueError(f"PROFILE_MIN_PER_ENDPOINT must be >= 0 (got {min_per_endpoint})")
        self.app = app
        self.out_dir = out_dir
        self.rate = rate
        self.min_per_endpoint = min_per_endpoint
        self.interval = interval
        self.overhead_budget = overhead_budget if overhead_budget and overhead_budget > 0 else None
        self.sink = SessionSink(out_dir, flush_interval, interval, self.stats)
        self._endpoints: dict[tuple[str, str | None], _Endpoint] = {}
        self._local = threading.local()
        self._mode_pid = -1
        self._exclusive = False
        self._async_mode: AsyncMode = "enabled"
        self._busy = False
        self._random = random.random
        self._warned = False

    # -- mode, decided per process (a --preload app forks before gevent patches) --
    def _check_mode(self) -> None:
        pid = os.getpid()
        if self._mode_pid == pid:
            return
        self._mode_pid = pid
        self._local = threading.local()  # created after gevent's patching: per greenlet
        self._exclusive = _gevent_patched()
        self._async_mode = "strict" if self._exclusive else "enabled"
        self._busy = False
        self.sink.mode = "gevent" if self._exclusive else "threads"

    # -- Flask hooks --
    def wrap_dispatch(self, original: Callable[[], Any]) -> Callable[[], Any]:
        endpoints = self._endpoints
        min_n = self.min_per_endpoint

        @wraps(original)
        def full_dispatch_request() -> Any:
            req = request._get_current_object()  # type: ignore[attr-defined]
            rule = req.url_rule
            key = (req.method, rule.rule if rule is not None else None)
            ep = endpoints.get(key)
            if ep is None:
                ep = endpoints.setdefault(key, _Endpoint(endpoint_label(*key), self.rate))
            ep.seen += 1
            if ep.seen > min_n and self._random() >= ep.rate:
                if ep.pending:
                    return self._profiled(original, ep, False, earned=False)
                t0 = perf_counter()
                rv = original()
                dt = perf_counter() - t0
                plain = ep.plain_s
                ep.plain_s = plain + PLAIN_ALPHA * (dt - plain) if plain else dt
                return rv
            return self._profiled(original, ep, ep.seen <= min_n, earned=True)

        return full_dispatch_request

    def _profiled(
        self, original: Callable[[], Any], ep: _Endpoint, forced: bool, *, earned: bool
    ) -> Any:
        self._check_mode()
        if self._exclusive:  # gevent: one profiled request at a time, turns are owed
            if earned:
                ep.pending += 1
            if self._busy or ep.pending <= 0:
                return original()
            ep.pending -= 1
            self._busy = True
        local = self._local
        profiler = Profiler(interval=self.interval, async_mode=self._async_mode)
        active = ActiveRequest(profiler, self.interval, self._async_mode)
        start = time.time()
        t0 = time.perf_counter()
        c0 = time.thread_time()
        try:
            profiler.start(caller_frame=sys._getframe(), target_description=ep.label)
        except Exception as exc:  # another profiler owns this thread: serve unprofiled
            self._busy = False
            self._warn(f"profiling: could not start a profiler ({exc}); request not profiled")
            return original()
        local.active = active
        response = None
        try:
            response = original()
            return response
        finally:
            local.active = None
            session = profiler.stop() if profiler.is_running else profiler.last_session
            wall = time.perf_counter() - t0
            cpu = time.thread_time() - c0
            self._observe_profiled(ep, wall)
            if self._exclusive:
                self._busy = False
            samples = list(session.frame_records) if session is not None else []
            is_async = bool(active.async_parts)
            for part in active.async_parts:
                samples.extend(part.samples)
                cpu += part.cpu
            status = getattr(response, "status_code", None) if response is not None else 500
            if response is not None:
                response.headers[HEADER] = "1"
            self.sink.add(
                SessionRecord(
                    endpoint=ep.label,
                    start=start,
                    wall_ms=wall * 1000,
                    cpu_ms=cpu * 1000,
                    status=status,
                    forced=forced,
                    is_async=is_async,
                    root=len(session.start_call_stack) if session is not None else 0,
                    duration=wall,
                    samples=samples,
                )
            )

    def _observe_profiled(self, ep: _Endpoint, wall: float) -> None:
        """Lower the endpoint's rate when profiling it would cost more than the budget.

        Throughput cost ~= rate * (profiled - unprofiled) / unprofiled wall time. The
        profiler's hook runs on every Python call, so a call-heavy endpoint is slowed
        several times over while profiled: there the rate drops below PROFILE_RATE.
        """
        ep.profiled += 1
        prev = ep.profiled_s
        ep.profiled_s = prev + PROFILED_ALPHA * (wall - prev) if prev else wall
        budget = self.overhead_budget
        if budget is None or not ep.plain_s:
            return
        extra = ep.profiled_s - ep.plain_s
        ep.rate = self.rate if extra <= 0 else min(self.rate, budget * ep.plain_s / extra)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per endpoint, this process so far: requests seen, profiled, effective rate."""
        return {
            ep.label: {"seen": ep.seen, "profiled": ep.profiled, "rate": round(ep.rate, 6)}
            for ep in list(self._endpoints.values())
        }

    def wrap_ensure_sync(
        self, original_async_to_sync: Callable[[View], View]
    ) -> Callable[[View], View]:
        """``async def`` views of a profiled request are profiled in their loop thread."""
        return wrap_ensure_sync(
            original_async_to_sync, lambda: getattr(self._local, "active", None)
        )

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(message)


def install_profiler(
    app: Flask,
    out_dir: str | os.PathLike[str] | None = None,
    rate: float | None = None,
    min_per_endpoint: int | None = None,
    *,
    interval: float | None = None,
    flush_interval: float | None = None,
) -> RequestProfiler | None:
    """Install sampled profiling on ``app``; returns None (and does nothing) without a folder.

    Defaults come from ``app.config``: ``PROFILE_DIR``, ``PROFILE_RATE`` (0.05),
    ``PROFILE_MIN_PER_ENDPOINT`` (50), and the optional ``PROFILE_INTERVAL`` (seconds
    between samples, 0.0003), ``PROFILE_FLUSH_INTERVAL`` (seconds, 2.0) and
    ``PROFILE_OVERHEAD_BUDGET`` (0.04; None turns the cap off, see ``_observe_profiled``).
    Installing twice returns the first installation.
    """
    existing: RequestProfiler | None = app.extensions.get(EXTENSION_KEY)
    if existing is not None:
        return existing
    cfg = app.config
    folder = out_dir if out_dir is not None else cfg.get("PROFILE_DIR")
    if not folder:
        return None
    prof = RequestProfiler(
        app,
        Path(folder),
        rate=float(rate if rate is not None else cfg.get("PROFILE_RATE", DEFAULT_RATE)),
        min_per_endpoint=int(
            min_per_endpoint
            if min_per_endpoint is not None
            else cfg.get("PROFILE_MIN_PER_ENDPOINT", DEFAULT_MIN_PER_ENDPOINT)
        ),
        interval=float(interval or cfg.get("PROFILE_INTERVAL", DEFAULT_INTERVAL)),
        flush_interval=float(
            flush_interval or cfg.get("PROFILE_FLUSH_INTERVAL", DEFAULT_FLUSH_INTERVAL)
        ),
        overhead_budget=cfg.get("PROFILE_OVERHEAD_BUDGET", DEFAULT_OVERHEAD_BUDGET),
    )
    prof.out_dir.mkdir(parents=True, exist_ok=True)
    # pyinstrument measures its timer's overhead on first use (milliseconds): do it now,
    # not inside the first profiled request
    timing_overhead()
    app.extensions[EXTENSION_KEY] = prof
    # instance attributes shadow the class methods: only this app is affected
    app.full_dispatch_request = prof.wrap_dispatch(app.full_dispatch_request)  # type: ignore[method-assign]
    app.ensure_sync = prof.wrap_ensure_sync(app.async_to_sync)  # type: ignore[method-assign,assignment]
    sink = prof.sink
    atexit.register(sink.stop)
    os.register_at_fork(after_in_child=sink.after_fork)
    _install_sigterm_flush(sink)
    return prof


def _install_sigterm_flush(sink: SessionSink) -> None:
    """Flush on SIGTERM when nothing else handles it (the Werkzeug server dies silently).

    gunicorn installs its own handlers in each worker (and its workers exit through
    atexit), so this only acts where SIGTERM still has its default action.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
    except ValueError:
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        with contextlib.suppress(Exception):
            sink.flush(timeout=2)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGTERM, on_sigterm)


def profiler_of(app: Flask) -> RequestProfiler | None:
    """The installed middleware of ``app`` (tests flush it with ``.sink.flush()``)."""
    prof: RequestProfiler | None = app.extensions.get(EXTENSION_KEY)
    return prof
