"""The state of one request's timing and the hooks that fill it: SQLAlchemy (``db``), httpx and
requests (``up``), Flask templates (``tpl``) and ``async def`` views (why ``cpu`` is absent).

``profiles.timing`` is the WSGI middleware that starts a ``RequestTiming`` per request,
installs these hooks once per process and writes the ``Server-Timing`` header; see its
docstring for what each part measures.
"""

from __future__ import annotations

import contextvars
import functools
import sys
import time
from collections.abc import Callable
from typing import Any

_perf = time.perf_counter


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
