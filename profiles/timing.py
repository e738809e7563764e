"""Where the time goes inside each request: a ``Server-Timing`` header on every response.

``install_timing(app)`` wraps a WSGI app (a Flask app keeps its object: its ``wsgi_app``
is wrapped) so that every response carries, in milliseconds::

    Server-Timing: app;dur=3.412, db;dur=2.108;desc="n=20", up;dur=0, tpl;dur=0,
                   cpu;dur=1.204, start;desc="1764213000123456"

- ``app``: from the server handing the request to the app until the app starts its
  response (Flask's ``start_response`` comes after the whole dispatch).
- ``db`` and its query count: time inside SQLAlchemy (checking a connection out,
  compiling, the driver's cursor, fetching rows, returning the connection; iterating
  over a result is the app's) and the number of driver executions, from SQLAlchemy's
  own classes (``profiles.timing_hooks``),
  so every engine of the process is seen, a user's too.
- ``up``: time with at least one outgoing HTTP call in flight (``httpx.Client.send``,
  ``httpx.AsyncClient.send``, ``requests.Session.send``). Concurrent calls of an
  ``async def`` view that gathers K calls count once: the part is wall time, never a sum.
- ``tpl``: Flask template rendering (``before_render_template`` .. ``template_rendered``),
  less the db and upstream time spent inside it, so the parts never overlap.
- ``cpu``: the request thread's CPU time (``time.thread_time_ns``) over the same span as
  ``app``: the request's own work, not its waits (queries, calls, the GIL held by another
  request). Exact where one OS thread serves one request at a time (sync and gthread
  workers, Werkzeug and waitress threads). Where that is not so it is sent as
  ``cpu;desc="absent: <reason>"``, never as a number: ``gevent`` (or ``eventlet``,
  ``greenlet``: the request runs in a greenlet, and the other greenlets' requests run on
  the same OS thread between its switches) and ``async view`` (an ``async def`` view or
  hook, which Flask runs through ``ensure_sync``: asgiref runs the coroutine on a thread
  of its own while the request thread waits, so the view's CPU is not the request
  thread's). Work a view hands to threads of its own is not counted either.
- ``start``: the unix time the app started handling, in whole microseconds, so a client
  on the same machine can tell its queueing (send time to start); ``queue;dur`` when
  the request carries nginx's ``X-Request-Start: t=<unix seconds>`` (time from nginx
  accepting it to the app).

A part whose library the process never imported is absent, not zero: an app without
SQLAlchemy sends no ``db``. The library must be imported when ``install_timing`` runs
(the app factory has run by then).

Per request state lives in a ``contextvars.ContextVar``: threads (gthread, Werkzeug) and
greenlets (gevent) each have their own context, and Flask's ways of running an
``async def`` view (asgiref, the targets' gevent thread pool) copy the request's context
into the view's loop, so its queries and calls land on the request that made them.
Work a view hands to a thread of its own without copying the context is not seen.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from profiles.timing_hooks import (
    _CURRENT,
    RequestTiming,
    _hook_async_views,
    _hook_http_clients,
    _hook_sqlalchemy,
    _hook_templates,
    _perf,
)

HEADER = "Server-Timing"
REQUEST_START_ENVIRON = "HTTP_X_REQUEST_START"
ENV_SWITCH = "FLASK_SERVER_TIMING"  # "false": the harness's way of turning timing off
EXTENSION_KEY = "flask_bench_timing"

_unix = time.time
_cpu = time.thread_time_ns

ABSENT_GREENLET = ("gevent", "eventlet")  # the greenlet libraries named in an absent reason


def greenlet_reason() -> str | None:
    """Why this thread's CPU clock is shared: the caller runs in a greenlet (None: it is not).

    gevent's workers (monkey-patched or not) and eventlet serve each request in a
    greenlet whose parent is the hub; a plain thread runs in its main greenlet (no
    parent), SQLAlchemy's import of greenlet notwithstanding.
    """
    greenlet = sys.modules.get("greenlet")
    if greenlet is None or greenlet.getcurrent().parent is None:
        return None
    for name in ABSENT_GREENLET:
        if name in sys.modules:
            return name
    return "greenlet"


# ------------------------------------------------------------------ the middleware


def request_start_unix(raw: str) -> float | None:
    """nginx's ``t=1764213000.123`` (also bare, in ms or µs) as unix seconds."""
    text = raw.strip().removeprefix("t=")
    try:
        value = float(text)
    except ValueError:
        return None
    if value > 1e14:
        return value / 1e6
    if value > 1e11:
        return value / 1e3
    return value


class TimingMiddleware:
    """WSGI middleware adding ``Server-Timing`` to every response."""

    def __init__(self, app: Callable[..., Iterable[bytes]], *, db: bool, up: bool, tpl: bool):
        self.app = app
        self.db = db
        self.up = up
        self.tpl = tpl

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = _unix()
        t0 = _perf()
        c0 = _cpu()
        timing = RequestTiming()
        shared = greenlet_reason()
        if shared is not None:
            timing.cpu_absent = shared
        token = _CURRENT.set(timing)
        header = self.header

        def timed_start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            cpu_ns = _cpu() - c0
            headers.append((HEADER, header(timing, _perf() - t0, cpu_ns, started, environ)))
            return start_response(status, headers, *exc)

        try:
            return self.app(environ, timed_start_response)
        finally:
            _CURRENT.reset(token)

    def header(
        self, t: RequestTiming, app_s: float, cpu_ns: int, started: float, environ: dict
    ) -> str:
        raw = environ.get(REQUEST_START_ENVIRON)
        cpu = (
            f"cpu;dur={cpu_ns / 1e6:.3f}"
            if t.cpu_absent is None
            else f'cpu;desc="absent: {t.cpu_absent}"'
        )
        if self.db and self.up and self.tpl and not raw:  # the reference targets: one format
            db, up, tpl = t.db_s, t.up_s, t.tpl_s  # zero: a plain "0", formatting is the cost
            return (
                f"app;dur={app_s * 1000.0:.3f}, "
                f'db;dur={f"{db * 1000.0:.3f}" if db else "0"};desc="n={t.db_n}", '
                f"up;dur={f'{up * 1000.0:.3f}' if up else '0'}, "
                f"tpl;dur={f'{tpl * 1000.0:.3f}' if tpl else '0'}, "
                f"{cpu}, "
                f'start;desc="{int(started * 1e6)}"'
            )
        parts = [f"app;dur={app_s * 1000.0:.3f}"]
        if self.db:
            parts.append(f'db;dur={t.db_s * 1000.0:.3f};desc="n={t.db_n}"')
        if self.up:
            parts.append(f"up;dur={t.up_s * 1000.0:.3f}")
        if self.tpl:
            parts.append(f"tpl;dur={t.tpl_s * 1000.0:.3f}")
        parts.append(cpu)
        if raw:
            accepted = request_start_unix(raw)
            if accepted is not None:
                parts.append(f"queue;dur={max(0.0, started - accepted) * 1000.0:.3f}")
        parts.append(f'start;desc="{int(started * 1e6)}"')
        return ", ".join(parts)


def install_timing(app: Any) -> Any:
    """Time every request of ``app``; returns what to serve (a Flask app: itself).

    Installing twice is a no-op. The hooks see the libraries imported so far.
    """
    extensions = getattr(app, "extensions", None)
    if isinstance(extensions, dict) and EXTENSION_KEY in extensions:
        return app
    db = _hook_sqlalchemy()
    up = _hook_http_clients()
    tpl = _hook_templates(app)
    _hook_async_views(app)
    if isinstance(extensions, dict):
        middleware = TimingMiddleware(app.wsgi_app, db=db, up=up, tpl=tpl)
        app.wsgi_app = middleware
        extensions[EXTENSION_KEY] = middleware
        return app
    return TimingMiddleware(app, db=db, up=up, tpl=tpl)


def timing_enabled(value: Any = None) -> bool:
    """The ``SERVER_TIMING`` setting (config value, else ``FLASK_SERVER_TIMING``); default on."""
    if value is None:
        value = os.environ.get(ENV_SWITCH, "true")
    if isinstance(value, str):
        return value.strip().lower() not in {"0", "false", "no", "off"}
    return bool(value)
