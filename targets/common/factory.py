"""``build_app``: the one app factory every variant calls with its technique.

Configuration, in order of precedence (docs/architecture.md): the mapping passed to
``create_app``, ``FLASK_*`` environment variables (JSON-decoded when they parse), the
defaults below.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import random
import secrets
import sys
import weakref
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from targets.common import api, web
from targets.common.auth import login_manager
from targets.common.db import Database, create_db_engine, prepare_database
from targets.common.errors import register_error_handlers
from targets.common.state import EXTENSION_KEY, BenchState
from targets.common.upstream_client import UpstreamClient

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")

DEFAULTS: dict[str, Any] = {
    "UPSTREAM_URL": "http://127.0.0.1:8081",
    "CACHE_REDIS_URL": None,
    "CACHE_DEFAULT_TIMEOUT": 300,
    "PROFILE_DIR": None,
    "PROFILE_RATE": 0.05,
    "PROFILE_MIN_PER_ENDPOINT": 50,
    "DEBUG_TOOLBAR": False,
    "SERVER_TIMING": True,  # Server-Timing on every response (profiles/timing.py)
    # an int makes /db, /queries and /updates pick the same ids in every variant (tests)
    "RANDOM_SEED": None,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # plain http on 127.0.0.1: Secure cookies would never be sent back; set
    # SESSION_COOKIE_SECURE / REMEMBER_COOKIE_SECURE to true behind https
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_SECURE": False,
    "WTF_CSRF_TIME_LIMIT": 3600,
}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

csrf = CSRFProtect()
csrf.exempt(api.bp)  # token-less JSON API, see targets/common/api.py


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class BenchFlask(Flask):
    """Flask, with async views running even when ``asgiref`` is not installed.

    Flask wraps ``async def`` views with ``asgiref.async_to_sync`` (the ``flask[async]``
    extra). Without it, each coroutine runs in a fresh event loop of its own, the same
    one-loop-per-request model.
    """

    def async_to_sync(self, func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        if _gevent_patched():
            return _gevent_thread_runner(func)
        try:
            return super().async_to_sync(func)
        except RuntimeError:
            return _fresh_loop_runner(func)


def _gevent_patched() -> bool:
    """True under gevent's monkey-patching (gunicorn's gevent workers).

    There, every greenlet shares one OS thread, and asyncio's "running loop" is kept
    per OS thread: a second request's view would find the first one's loop running and
    asgiref refuses ("You cannot use AsyncToSync in the same thread as an async event
    loop"), so most concurrent async requests fail. Each coroutine then runs on a real
    thread of gevent's pool instead, the request's greenlet yielding while it waits.
    """
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("threading"))


def _gevent_thread_runner(func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        import gevent

        coro = func(*args, **kwargs)
        context = contextvars.copy_context()  # Flask's request and app context go along
        return gevent.get_hub().threadpool.apply(context.run, (_run_in_new_loop, coro))

    return run


def _fresh_loop_runner(func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return _run_in_new_loop(func(*args, **kwargs))
        # a loop already runs in this thread: give the coroutine its own thread and loop
        context = contextvars.copy_context()  # request context and its timing go along
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(context.run, _run_in_new_loop, func(*args, **kwargs)).result()

    return run


def _run_in_new_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` without its signal handling and executor shutdown (~2x cheaper)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def load_config(app: Flask, config: Mapping[str, Any] | None) -> None:
    app.config.update(DEFAULTS)
    app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'bench.sqlite3'}"
    app.config.from_prefixed_env()
    if config:
        app.config.update(config)
    secret = app.config.get("SECRET_KEY")
    if secret:
        app.config["SECRET_KEY"] = str(secret)
    else:
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        log.info("SECRET_KEY not set: using a random one (set it when running several workers)")
    debug = truthy(app.config.get("DEBUG_TOOLBAR"))
    app.config["DEBUG_TOOLBAR"] = debug
    app.config["DEBUG"] = debug
    app.debug = debug


def build_app(
    variant: str,
    config: Mapping[str, Any] | None,
    *,
    bench_blueprint: Blueprint,
    cached: bool = False,
) -> Flask:
    """An app serving every endpoint; ``bench_blueprint`` and ``cached`` are the technique."""
    app = BenchFlask(f"targets.{variant}_app", template_folder=str(TEMPLATES), static_folder=None)
    load_config(app, config)

    pool = app.config.get("DB_POOL")
    engine = create_db_engine(str(app.config["DATABASE_URL"]), int(pool) if pool else None)
    prepare_database(engine)
    engine.dispose()  # no connection made before a fork is ever shared with a worker

    seed = app.config.get("RANDOM_SEED")
    randint = random.Random(int(seed)).randint if seed is not None else random.randint
    upstream_url = str(app.config["UPSTREAM_URL"])
    cache = None
    if cached:
        from targets.common import caching

        flask_cache = caching.create_cache(app)
        redis = bool(app.config.get("CACHE_REDIS_URL"))
        stamps = None if redis else caching.ChangeStamps(caching.stamps_path(app))
        cache = caching.CoherentCache(app.extensions["cache"][flask_cache], stamps)
        db: Database = caching.CachedDatabase(engine, cache)
        upstream: UpstreamClient = caching.CachedUpstream(upstream_url, cache)
        install_conditional_get(app)
    else:
        db = Database(engine)
        upstream = UpstreamClient(upstream_url)
    state = BenchState(variant, db, upstream, randint, cache)
    app.extensions[EXTENSION_KEY] = state
    # no socket outlives its app; the callback holds the pools, never the app itself
    weakref.finalize(app, state.close)

    csrf.init_app(app)
    login_manager.init_app(app)
    register_error_handlers(app)
    app.register_blueprint(bench_blueprint)
    app.register_blueprint(api.bp)
    app.register_blueprint(web.bp)

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    if app.debug:
        install_debug_toolbar(app)
    if app.config.get("PROFILE_DIR"):
        from profiles.middleware import install_profiler

        install_profiler(app)
    if truthy(app.config.get("SERVER_TIMING")):
        from profiles.timing import install_timing

        install_timing(app)
    return app


ETAG_ENDPOINTS = frozenset(
    {"bench.json", "bench.plaintext", "bench.fortunes", "api.list_items", "api.get_item"}
)


def install_conditional_get(app: Flask) -> None:
    """ETag on stable GET answers; a matching If-None-Match gets a bodiless 304."""
    from flask import request

    @app.after_request
    def conditional_get(response: Response) -> Response:
        if (
            request.method in ("GET", "HEAD")
            and request.endpoint in ETAG_ENDPOINTS
            and response.status_code == 200
            and not response.direct_passthrough
        ):
            response.add_etag()
            response.headers["Cache-Control"] = "no-cache"  # always revalidate
            response.make_conditional(request)
        return response


def install_debug_toolbar(app: Flask) -> None:
    """Only in the explicit debug mode (``DEBUG_TOOLBAR``): never in a measured run."""
    from flask_debugtoolbar import DebugToolbarExtension

    app.config["DEBUG_TB_INTERCEPT_REDIRECTS"] = False
    # the toolbar (and its config panel, which shows the secret key) only for this machine
    app.config.setdefault("DEBUG_TB_HOSTS", ["127.0.0.1", "::1"])
    app.config["DEBUG_TB_PROFILER_ENABLED"] = True
    DebugToolbarExtension(app)
    log.warning("debug mode with Flask-DebugToolbar: never expose this app beyond 127.0.0.1")
