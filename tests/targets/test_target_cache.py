"""Variant ``cached``: repeated reads skip the database, writes invalidate, ETag/304.

Every test runs on the in-process SimpleCache and on a real ``redis-server`` process.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from harness.stack.processes import (
    LOOPBACK,
    Supervisor,
    free_port,
    require_executable,
    wait_tcp_ready,
)
from targets.common.state import EXTENSION_KEY
from targets.common.upstream_client import UpstreamClient


@pytest.fixture(params=["simple", "redis"])
def cache_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "simple":
        yield {}
        return
    exe = require_executable("redis-server")  # CI: a missing redis-server fails the test
    with Supervisor(grace=2.0) as sup:
        port = free_port()
        child = sup.start(
            "redis-server",
            [exe, "--bind", LOOPBACK, "--port", str(port), "--save", "", "--appendonly", "no"],
            log_path=tmp_path / "redis.log",
        )
        wait_tcp_ready(child, LOOPBACK, port)
        yield {"CACHE_REDIS_URL": f"redis://{LOOPBACK}:{port}/0"}


class QueryCounter:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement, *_args) -> None:
        self.statements.append(statement)

    def take(self) -> int:
        n = len(self.statements)
        self.statements.clear()
        return n

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.fixture
def cached(make_app, cache_config):
    app = make_app("cached", **cache_config)
    state = app.extensions[EXTENSION_KEY]
    counter = QueryCounter(state.db.engine)
    yield app, state, counter
    counter.close()
    if state.cache is not None:
        state.cache.clear()


def test_backend_is_the_configured_one(cached, cache_config):
    _app, state, _counter = cached
    kind = type(state.cache.backend).__name__
    assert kind == ("RedisCache" if cache_config else "SimpleCache")


@pytest.mark.parametrize(
    "path",
    ["/db", "/queries?queries=5", "/fortunes", "/api/items/3", "/api/items?page=2", "/items/3"],
)
def test_repeated_read_does_not_hit_the_database(cached, path):
    app, state, counter = cached
    state.randint = lambda _a, _b: 42  # the same World row every time
    client = app.test_client()
    first = client.get(path)
    assert first.status_code == 200
    assert counter.take() >= 1
    for _ in range(3):
        again = client.get(path)
        assert again.get_data() == first.get_data()
    assert counter.take() == 0


def test_uncached_variant_queries_every_time(make_app):
    app = make_app("uncached")
    counter = QueryCounter(app.extensions[EXTENSION_KEY].db.engine)
    client = app.test_client()
    for _ in range(3):
        client.get("/fortunes")
    assert counter.take() == 3
    counter.close()


def test_upstream_answers_are_cached(cached, monkeypatch):
    app, _state, _counter = cached
    calls = []
    real = UpstreamClient.delays
    monkeypatch.setattr(
        UpstreamClient, "delays", lambda self, k, d: calls.append((k, d)) or real(self, k, d)
    )
    client = app.test_client()
    bodies = {client.get("/upstream?calls=3&delay_ms=1").get_data() for _ in range(3)}
    assert len(bodies) == 1 and calls == [(3, 1)]
    client.get("/upstream?calls=2&delay_ms=1")
    assert calls == [(3, 1), (2, 1)]


def test_item_writes_invalidate(cached):
    app, _state, counter = cached
    client = app.test_client()
    assert client.get("/api/items/3").get_json()["name"] == "Item 003"
    total = client.get("/api/items").get_json()["total"]
    client.get("/api/items/3")
    client.get("/api/items")

    new = {"name": "renamed", "description": "", "price_cents": 7}
    assert client.put("/api/items/3", json=new).status_code == 200
    assert client.get("/api/items/3").get_json() == {"id": 3, **new}
    assert client.get("/api/items?per_page=5").get_json()["items"][2]["name"] == "renamed"
    assert "renamed" in client.get("/items/3").get_data(as_text=True)

    assert client.delete("/api/items/3").status_code == 204
    assert client.get("/api/items/3").status_code == 404
    assert client.get("/items/3").status_code == 404
    assert client.get("/api/items").get_json()["total"] == total - 1

    created = client.post("/api/items", json=new).get_json()
    assert client.get("/api/items").get_json()["total"] == total
    assert client.get(f"/api/items/{created['id']}").get_json()["name"] == "renamed"
    counter.take()


def test_world_updates_invalidate(cached):
    app, state, _counter = cached
    numbers = itertools.cycle([42, 42, 4242, 42])  # read id 42, write 4242
    state.randint = lambda _a, _b: next(numbers)
    client = app.test_client()
    before = client.get("/db").get_json()
    assert before["id"] == 42
    updated = client.get("/updates?queries=1").get_json()
    assert updated == [{"id": 42, "randomNumber": 4242}]
    state.randint = lambda _a, _b: 42
    assert client.get("/db").get_json() == {"id": 42, "randomNumber": 4242}
    assert client.get("/queries?queries=2").get_json() == [{"id": 42, "randomNumber": 4242}] * 2


def test_conditional_get(cached):
    app, _state, _counter = cached
    client = app.test_client()
    for path in ("/fortunes", "/api/items/4", "/api/items", "/json"):
        first = client.get(path)
        etag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == "no-cache"
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b""
    old = client.get("/api/items/4").headers["ETag"]
    client.put("/api/items/4", json={"name": "changed", "price_cents": 1})
    assert client.get("/api/items/4", headers={"If-None-Match": old}).status_code == 200
    assert "ETag" not in client.get("/db").headers  # a random row: nothing to revalidate


def test_invalidation_reaches_every_worker(make_app, cache_config):
    """Two apps on one database behave like two gunicorn workers: Redis is shared, and
    SimpleCache entries are checked against the change stamps both processes map."""
    one = make_app("cached", db_name="shared", **cache_config)
    two = make_app("cached", db_name="shared", **cache_config)
    c1, c2 = one.test_client(), two.test_client()
    assert c2.get("/api/items/9").get_json()["name"] == "Item 009"
    page = c2.get("/api/items?per_page=10").get_json()
    c1.put("/api/items/9", json={"name": "nine", "price_cents": 9})
    assert c2.get("/api/items/9").get_json()["name"] == "nine"
    assert c2.get("/api/items?per_page=10").get_json()["items"][8]["name"] == "nine"
    c1.delete("/api/items/9")
    assert c2.get("/api/items/9").status_code == 404
    assert c2.get("/api/items?per_page=10").get_json()["total"] == page["total"] - 1

    s1, s2 = one.extensions[EXTENSION_KEY], two.extensions[EXTENSION_KEY]
    s2.randint = lambda _a, _b: 77
    before = c2.get("/db").get_json()
    s1.db.update_worlds([(77, before["randomNumber"] % 10_000 + 1)])
    assert c2.get("/db").get_json()["randomNumber"] == before["randomNumber"] % 10_000 + 1
