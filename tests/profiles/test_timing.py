"""The Server-Timing middleware through Flask's test client (real SQLAlchemy, real HTTP)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
from flask import Flask, render_template_string, request
from sqlalchemy import create_engine, text

from loadtests.servertiming import absent_reason, parse
from profiles.timing import install_timing, request_start_unix
from targets.common.workload import cpu_work
from targets.upstream import serve_in_thread

DELAY_MS = 60


def _app(tmp_path: Path, upstream: str) -> Flask:
    app = Flask(__name__)
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")

    @app.get("/db")
    def db() -> dict:
        with engine.connect() as conn:
            values = [conn.execute(text("SELECT :n"), {"n": n}).scalar() for n in range(7)]
        return {"values": values}

    @app.get("/up-sync")
    def up_sync() -> dict:
        with httpx.Client(base_url=upstream) as client:
            for _ in range(3):
                client.get("/delay", params={"ms": DELAY_MS})
        return {}

    @app.get("/up-async")
    async def up_async() -> dict:
        async with httpx.AsyncClient(base_url=upstream) as client:
            await asyncio.gather(*(client.get("/delay", params={"ms": DELAY_MS}) for _ in range(3)))
        return {}

    @app.get("/tpl")
    def tpl() -> str:
        with engine.connect() as conn:  # a query inside the page is db time, not template
            conn.execute(text("SELECT 1"))
        return render_template_string("{% for i in range(20000) %}{{ i }}{% endfor %}")

    return install_timing(app)


def test_parts_of_each_kind_of_view(tmp_path: Path) -> None:
    with serve_in_thread() as upstream:
        client = _app(tmp_path, upstream).test_client()
        parts = {
            path: parse(client.get(path).headers["Server-Timing"])
            for path in ("/db", "/up-sync", "/up-async", "/tpl")
        }
    assert parts["/db"]["queries"] == 7 and parts["/db"]["db"] > 0
    assert parts["/db"]["up"] == 0 and parts["/db"]["tpl"] == 0
    assert parts["/up-sync"]["up"] >= 3 * DELAY_MS
    assert DELAY_MS <= parts["/up-async"]["up"] < 2.5 * DELAY_MS  # gathered: counted once
    assert parts["/up-sync"]["up"] > 1.5 * parts["/up-async"]["up"]
    for p in parts.values():
        assert p["app"] >= p["db"] + p["up"] + p["tpl"] - 0.01
        assert abs(p["start"] - time.time()) < 60
    assert parts["/tpl"]["tpl"] > 0 and parts["/tpl"]["queries"] == 1


def test_concurrent_requests_keep_their_own_parts(tmp_path: Path) -> None:
    app = _app(tmp_path, "http://127.0.0.1:9")
    found: list[float] = []

    def hit() -> None:
        with app.test_client() as client:
            for _ in range(20):
                found.append(parse(client.get("/db").headers["Server-Timing"])["queries"])

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert found == [7.0] * 80


def test_nginx_request_start_gives_a_queue_part(tmp_path: Path) -> None:
    client = _app(tmp_path, "http://127.0.0.1:9").test_client()
    sent = time.time() - 0.25
    header = client.get("/db", headers={"X-Request-Start": f"t={sent:.3f}"}).headers
    queue = parse(header["Server-Timing"])["queue"]
    assert 240 <= queue < 5000
    assert request_start_unix("t=1764213000.123") == 1764213000.123
    assert request_start_unix("1764213000123") == 1764213000.123  # ms
    assert request_start_unix("t=junk") is None


def test_installing_twice_adds_one_header(tmp_path: Path) -> None:
    app = _app(tmp_path, "http://127.0.0.1:9")
    install_timing(app)
    assert len(app.test_client().get("/db").headers.getlist("Server-Timing")) == 1


CPU_N = 200_000


def _cpu_app() -> Flask:
    app = Flask(__name__)

    @app.get("/cpu")
    def cpu() -> dict:
        return {"result": cpu_work(int(request.args.get("n", CPU_N)))}

    @app.get("/sleep")
    def sleep() -> dict:
        time.sleep(0.05)  # wall time, no CPU
        return {}

    @app.get("/async-cpu")
    async def async_cpu() -> dict:
        return {"result": cpu_work(CPU_N)}

    return install_timing(app)


def _own_cpu_ms(n: int) -> float:
    t0 = time.thread_time_ns()
    cpu_work(n)
    return (time.thread_time_ns() - t0) / 1e6


def test_cpu_is_the_request_threads_own_work() -> None:
    client = _cpu_app().test_client()
    client.get("/cpu")  # first request: Flask's own first-time work
    # interleaved, least of several: CPU time per unit of work varies with what runs on
    # the sibling hardware thread, so each figure is the least of 5 tries
    own, one, two = [], [], []
    for _ in range(5):
        own.append(_own_cpu_ms(CPU_N))
        one.append(parse(client.get("/cpu").headers["Server-Timing"])["cpu"])
        two.append(parse(client.get(f"/cpu?n={2 * CPU_N}").headers["Server-Timing"])["cpu"])
    assert 0.5 * min(own) <= min(one) <= 2.0 * min(own) + 1.0  # the work plus Flask's
    assert 1.3 <= min(two) / min(one) <= 3.0
    sleeping = parse(client.get("/sleep").headers["Server-Timing"])
    assert sleeping["app"] >= 50 and sleeping["cpu"] < 0.5 * sleeping["app"]  # waiting is not CPU


def test_an_async_view_sends_no_cpu_figure_but_its_reason() -> None:
    client = _cpu_app().test_client()
    header = client.get("/async-cpu").headers["Server-Timing"]
    assert "cpu" not in parse(header)  # the view ran on asgiref's thread, not this one
    assert absent_reason(header) == "async view"
    after = client.get("/cpu").headers["Server-Timing"]  # the mark is the request's only
    assert parse(after)["cpu"] > 0 and absent_reason(after) is None


def test_a_request_in_a_greenlet_sends_no_cpu_figure_but_gevent() -> None:
    import gevent

    app = _cpu_app()

    def get() -> str:
        return str(app.test_client().get("/cpu?n=1000").headers["Server-Timing"])

    header = gevent.spawn(get).get(timeout=30)
    assert "cpu" not in parse(header) and absent_reason(header) == "gevent"
    assert parse(get())["cpu"] > 0  # the main greenlet of a thread: its own clock


def test_an_async_view_of_an_app_mounted_in_plain_wsgi_is_seen_too() -> None:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.test import Client

    inner = Flask("inner")

    @inner.get("/a")
    async def a() -> str:
        return "a"

    @inner.get("/s")
    def s() -> str:
        return "s"

    outer = install_timing(DispatcherMiddleware(Flask("outer"), {"/in": inner}))
    client = Client(outer)
    assert absent_reason(client.get("/in/a").headers["Server-Timing"]) == "async view"
    assert parse(client.get("/in/s").headers["Server-Timing"])["cpu"] > 0
