"""A small Flask app for the profiling tests: sync and async views with known workload functions.

Served by real servers as ``tests.profiles.profiled_app:create_app()`` (configuration
from ``FLASK_*`` environment variables, like the targets) and used directly through
the test client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import json
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from flask import Flask, jsonify, render_template_string

from profiles.middleware import install_profiler

FORTUNES = """<!doctype html><title>Fortunes</title><table>
{% for row in rows %}<tr><td>{{ row.id }}</td><td>{{ row.message }}</td></tr>{% endfor %}
</table>"""


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def json_round_trips(value: Any, rounds: int) -> Any:
    """Real CPU work for the views below: ``value`` through the JSON codec ``rounds`` times."""
    for _ in range(rounds):
        value = json.loads(json.dumps(value))
    return value


# Each piece of work below takes about a millisecond (longer on a slow machine): more
# than the default sampling interval (0.3 ms), so that every profiled request holds
# samples of it (a bare jsonify, for one, is over before a sample is due).


def build_greeting() -> str:
    """The work of /json: its message, built through the JSON codec."""
    return str(json_round_trips("Hello, World!", 1000))


def crunch_numbers(n: int = 20) -> int:
    """The CPU workload of /cpu."""
    return fib(n)


def encode_query(delay_s: float) -> str:
    return str(json_round_trips(f"SELECT id FROM rows -- wait {delay_s}", 1000))


def decode_rows(query: str) -> list[int]:
    return [len(row) for row in json_round_trips([query] * 10, 300)]


def fetch_rows(delay_s: float = 0.02) -> list[int]:
    """Stands in for a database call: encodes the query, waits for the server (a sleep is
    I/O to gevent), decodes the rows. Under gevent the wait is placed between the
    request's samples before and after it (``profiles.stacks``): the encoding and the
    decoding make sure there are such samples, in two different functions, so that the
    wait lands under ``fetch_rows``."""
    query = encode_query(delay_s)
    time.sleep(delay_s)
    return list(range(len(decode_rows(query))))


async def async_workload() -> int:
    """Called inside the async view: awaits, then computes."""
    await asyncio.sleep(0.002)
    return async_compute(20)  # about a millisecond, like the work above


def async_compute(n: int) -> int:
    return fib(n)


class ThreadHopFlask(Flask):
    """Runs each coroutine in a fresh loop on another thread, as asgiref does."""

    def async_to_sync(self, func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            ctx = contextvars.copy_context()  # asgiref carries the context over too
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                return pool.submit(ctx.run, asyncio.run, func(*args, **kwargs)).result()

        return run


class SameThreadFlask(Flask):
    """Runs each coroutine in a fresh loop on the request thread (the targets' fallback).

    Under gevent every greenlet shares one OS thread, hence one "running loop": the
    coroutine gets a real OS thread from gevent's pool instead.
    """

    def async_to_sync(self, func: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            monkey = sys.modules.get("gevent.monkey")
            if monkey is not None and monkey.is_module_patched("threading"):
                import gevent

                pool = gevent.get_hub().threadpool
                ctx = contextvars.copy_context()  # Flask's request context goes along
                return pool.spawn(ctx.run, asyncio.run, func(*args, **kwargs)).get()
            return asyncio.run(func(*args, **kwargs))

        return run


def create_app(
    config: Mapping[str, Any] | None = None, *, thread_hop: bool = False, asgiref: bool = False
) -> Flask:
    """``asgiref``: plain Flask, whose async views run through asgiref's AsyncToSync."""
    cls = Flask if asgiref else ThreadHopFlask if thread_hop else SameThreadFlask
    app = cls(__name__)
    app.config.from_prefixed_env()
    if config:
        app.config.update(config)

    @app.get("/json")
    def json_view() -> Any:
        return jsonify(message=build_greeting())

    @app.get("/cpu")
    def cpu() -> Any:
        return jsonify(value=crunch_numbers())

    @app.get("/db")
    def db() -> Any:
        return jsonify(rows=fetch_rows())

    @app.get("/fortunes")
    def fortunes() -> Any:
        rows = [{"id": i, "message": f"fortune <{i}> & more"} for i in range(12)]
        return render_template_string(FORTUNES, rows=rows)

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> Any:
        return jsonify(id=item_id)

    @app.get("/async")
    async def async_view() -> Any:
        return jsonify(value=await async_workload())

    @app.get("/healthz")
    def healthz() -> Any:
        return "ok"

    if app.config.get("PROFILE_DIR"):
        install_profiler(app)
    return app
