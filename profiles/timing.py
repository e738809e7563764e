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
  own classes (``_hook_sqlalchemy``),
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

import contextvars
import functools
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

HEADER = "Server-Timing"
REQUEST_START_ENVIRON = "HTTP_X_REQUEST_START"
ENV_SWITCH = "FLASK_SERVER_TIMING"  # "false": the harness's way of turning timing off
EXTENSION_KEY = "flask_bench_timing"

_perf = time.perf_counter
_unix = time.time
_cpu = time.thread_time_ns

ABSENT_GREENLET = ("gevent", "eventlet")  # the greenlet libraries named in an absent reason
ASYNC_VIEW = "async view"


class RequestTiming:
    """The parts of one request, in seconds; nested and concurrent spans count once.

    Class-level defaults, no ``__init__``: creating one per request costs next to nothing.
    """

    db_s = 0.0
    db_n = 0
    db_depth = 0
    db_t0 = 0.0
    db_q_depth = 0  # inside a driver call: nested ones (a dialect calling its base) count once
    up_s = 0.0
    up_depth = 0
    up_t0 = 0.0
    tpl_s = 0.0
    tpl_marks: list[tuple[float, float, float]] | None = None
    cpu_absent: str | None = None  # why the thread's CPU time is not this request's

    def db_enter(self, query: bool = False) -> None:
        if query:
            if self.db_q_depth == 0:
                self.db_n += 1
            self.db_q_depth += 1
        if self.db_depth == 0:
            self.db_t0 = _perf()
        self.db_depth += 1

    def db_exit(self, query: bool = False) -> None:
        if query and self.db_q_depth > 0:
            self.db_q_depth -= 1
        if self.db_depth > 0:
            self.db_depth -= 1
            if self.db_depth == 0:
                self.db_s += _perf() - self.db_t0

    def up_enter(self) -> None:
        if self.up_depth == 0:
            self.up_t0 = _perf()
        self.up_depth += 1

    def up_exit(self) -> None:
        if self.up_depth > 0:
            self.up_depth -= 1
            if self.up_depth == 0:
                self.up_s += _perf() - self.up_t0

    def tpl_enter(self) -> None:
        if self.tpl_marks is None:
            self.tpl_marks = []
        self.tpl_marks.append((_perf(), self.db_s, self.up_s))

    def tpl_exit(self) -> None:
        if self.tpl_marks:
            t0, db0, up0 = self.tpl_marks.pop()
            if not self.tpl_marks:  # an outer template already holds an inner one's time
                inside = (_perf() - t0) - (self.db_s - db0) - (self.up_s - up0)
                self.tpl_s += max(0.0, inside)


_CURRENT: contextvars.ContextVar[RequestTiming | None] = contextvars.ContextVar(
    "flask_bench_request_timing", default=None
)


def current() -> RequestTiming | None:
    """The timing of the request being served in this context (None outside requests)."""
    return _CURRENT.get()


# ------------------------------------------------------------------ library hooks

_HOOKED: set[str] = set()  # "db", "up", "tpl": parts this process can see


DB_STATEMENT_METHODS = ("execute", "exec_driver_sql", "close")  # sqlalchemy.engine.Connection
DB_FETCH_METHODS = (
    "first",
    "one",
    "one_or_none",
    "scalar",
    "scalar_one",
    "scalar_one_or_none",
    "all",
    "fetchone",
    "fetchmany",
    "fetchall",
)
DB_DRIVER_METHODS = ("do_execute", "do_executemany", "do_execute_no_params")  # dialects


def _wrap_db(cls: Any, name: str, query: bool) -> None:
    original = cls.__dict__.get(name)
    if original is None or getattr(original, "_bench_timed", False):
        return

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t = _CURRENT.get()
        if t is None:
            return original(*args, **kwargs)
        t.db_enter(query=query)
        try:
            return original(*args, **kwargs)
        finally:
            t.db_exit(query=query)

    timed._bench_timed = True  # type: ignore[attr-defined]
    setattr(cls, name, timed)


def _subclasses(cls: type) -> list[type]:
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.__subclasses__())
    return out


def _hook_sqlalchemy() -> bool:
    """Wrap SQLAlchemy's statement and driver calls (every engine, a user's too).

    Not engine events: any ``Engine`` listener moves every execution onto SQLAlchemy's
    event path, measured here at +12 µs a query (+40% of a primary-key SELECT on
    SQLite); a wrapped method costs well under a microsecond when idle. Statement level:
    ``Engine.connect`` (pool checkout), ``Connection.execute``/``exec_driver_sql``
    (compiling, the driver, result setup), fetching rows (``Result.first``, ``all`` ...,
    not iteration), ``Connection.close`` (the pool's reset on return).
    Driver level (the dialect's ``do_execute*``, overrides of the loaded dialects too):
    the query count, outermost call only.
    """
    if "sqlalchemy" not in sys.modules:
        return False
    if "db" in _HOOKED:
        return True
    from sqlalchemy.engine import Connection, Engine, MappingResult, Result, ScalarResult, default

    _wrap_db(Engine, "connect", query=False)  # a pooled connection checked out ...
    for name in DB_STATEMENT_METHODS:  # ... used, and returned (the pool's rollback)
        _wrap_db(Connection, name, query=False)
    for cls in (Result, ScalarResult, MappingResult):  # rows fetched
        for name in DB_FETCH_METHODS:
            _wrap_db(cls, name, query=False)
    for cls in _subclasses(default.DefaultDialect):
        for name in DB_DRIVER_METHODS:
            _wrap_db(cls, name, query=True)
    _HOOKED.add("db")
    return True


def _wrap_sync_send(cls: Any) -> None:
    original = cls.send
    if getattr(original, "_bench_timed", False):
        return

    @functools.wraps(original)
    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        t = _CURRENT.get()
        if t is None:
            return original(self, *args, **kwargs)
        t.up_enter()
        try:
            return original(self, *args, **kwargs)
        finally:
            t.up_exit()

    send._bench_timed = True  # type: ignore[attr-defined]
    cls.send = send


def _wrap_async_send(cls: Any) -> None:
    original = cls.send
    if getattr(original, "_bench_timed", False):
        return

    @functools.wraps(original)
    async def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        t = _CURRENT.get()
        if t is None:
            return await original(self, *args, **kwargs)
        t.up_enter()
        try:
            return await original(self, *args, **kwargs)
        finally:
            t.up_exit()

    send._bench_timed = True  # type: ignore[attr-defined]
    cls.send = send


def _hook_http_clients() -> bool:
    seen = False
    if "httpx" in sys.modules:
        import httpx

        _wrap_sync_send(httpx.Client)
        _wrap_async_send(httpx.AsyncClient)
        seen = True
    if "requests" in sys.modules:
        import requests

        _wrap_sync_send(requests.Session)
        seen = True
    if seen:
        _HOOKED.add("up")
    return seen


def _hook_templates(app: Any) -> bool:
    try:
        from flask import Flask, before_render_template, template_rendered
    except ImportError:  # pragma: no cover - flask is a dependency
        return False
    if not isinstance(app, Flask):
        return False

    def before(_sender: Any, **_kw: Any) -> None:
        t = _CURRENT.get()
        if t is not None:
            t.tpl_enter()

    def rendered(_sender: Any, **_kw: Any) -> None:
        t = _CURRENT.get()
        if t is not None:
            t.tpl_exit()

    before_render_template.connect(before, app, weak=False)
    template_rendered.connect(rendered, app, weak=False)
    _HOOKED.add("tpl")
    return True


def _mark_async(out: Any, func: Any) -> Any:
    if out is not func:  # a coroutine function, wrapped to run elsewhere
        t = _CURRENT.get()
        if t is not None:
            t.cpu_absent = ASYNC_VIEW
    return out


def _hook_async_views(app: Any) -> None:
    """Mark requests that run an ``async def`` view or hook: their CPU is not the thread's.

    Flask turns every view and request hook into a plain callable through
    ``ensure_sync`` at request time, on the request's thread; a coroutine function comes
    back wrapped (asgiref: run on a new thread; the targets' ``BenchFlask``: a thread of
    gevent's pool, or a loop of its own). Wrapped on ``flask.Flask`` (every app of the
    process, one mounted under another too; overrides of ``async_to_sync`` are called
    from it) and on ``app`` when its class overrides ``ensure_sync`` itself.
    """
    try:
        from flask import Flask
    except ImportError:  # pragma: no cover - flask is a dependency
        return
    original = Flask.ensure_sync
    if not getattr(original, "_bench_timed", False):

        @functools.wraps(original)
        def ensure_sync(self: Any, func: Callable[..., Any]) -> Callable[..., Any]:
            return _mark_async(original(self, func), func)  # type: ignore[no-any-return]

        ensure_sync._bench_timed = True  # type: ignore[attr-defined]
        Flask.ensure_sync = ensure_sync  # type: ignore[method-assign]
    own = getattr(app, "ensure_sync", None)
    if own is None or getattr(own, "_bench_timed", False):
        return

    @functools.wraps(own)
    def app_ensure_sync(func: Callable[..., Any]) -> Callable[..., Any]:
        return _mark_async(own(func), func)  # type: ignore[no-any-return]

    app_ensure_sync._bench_timed = True  # type: ignore[attr-defined]
    app.ensure_sync = app_ensure_sync


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
