"""The profiling middleware through Flask's test client: sampling, labels, header, async."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from profiles.aggregate import aggregate_run
from profiles.middleware import HEADER, install_profiler, profiler_of
from profiles.session import RAW_KIND, iter_pyinstrument_sessions, read_raw
from tests.profiles.conftest import close_app, flush
from tests.profiles.profiled_app import create_app


def make_app(out: Path | None, *, thread_hop: bool = False, asgiref: bool = False, **config):
    cfg = {"PROFILE_DIR": str(out)} if out else {}
    cfg.update(config)
    return create_app(cfg, thread_hop=thread_hop, asgiref=asgiref)


def profiled(resp) -> bool:
    return resp.headers.get(HEADER) == "1"


def sessions(files: list[Path]) -> list[dict]:
    return [s for f in files for s in read_raw(f)["sessions"]]


def test_nothing_is_profiled_without_profile_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_PROFILE_DIR", raising=False)
    app = make_app(None, PROFILE_RATE=1.0)
    assert profiler_of(app) is None
    assert "full_dispatch_request" not in vars(app) and "ensure_sync" not in vars(app)
    assert install_profiler(Flask(__name__)) is None
    client = app.test_client()
    for path in ("/json", "/cpu", "/async"):
        assert not profiled(client.get(path))
    assert list(tmp_path.iterdir()) == []


def test_first_n_per_endpoint_then_the_rate(tmp_path):
    app = make_app(tmp_path, PROFILE_RATE=0.0, PROFILE_MIN_PER_ENDPOINT=3)
    client = app.test_client()
    try:
        marks = {p: [profiled(client.get(p)) for _ in range(6)] for p in ("/json", "/items/1")}
        # another id is the same endpoint: its budget is spent
        assert not profiled(client.get("/items/2"))
        assert [profiled(client.get("/missing")) for _ in range(4)] == [True] * 3 + [False]
        assert marks == {p: [True] * 3 + [False] * 3 for p in ("/json", "/items/1")}
        got = sessions(flush(app))
    finally:
        close_app(app)
    labels = sorted(s["endpoint"] for s in got)
    assert labels == ["GET /items/<int:item_id>"] * 3 + ["GET /json"] * 3 + ["GET <unmatched>"] * 3
    assert all(s["forced"] for s in got)


def test_rate_one_profiles_every_request_and_header_matches_sessions(tmp_path):
    app = make_app(tmp_path, PROFILE_RATE=1.0, PROFILE_MIN_PER_ENDPOINT=0)
    client = app.test_client()
    try:
        marks = [profiled(client.get(p)) for p in ["/json", "/cpu", "/db"] * 3]
        got = sessions(flush(app))
    finally:
        close_app(app)
    assert all(marks) and len(got) == 9
    assert not any(s["forced"] for s in got)


def test_the_rate_is_a_fraction_after_the_minimum(tmp_path):
    app = make_app(
        tmp_path, PROFILE_RATE=0.25, PROFILE_MIN_PER_ENDPOINT=5, PROFILE_OVERHEAD_BUDGET=None
    )
    prof = profiler_of(app)
    draws = iter([0.1, 0.9, 0.9, 0.9] * 10)  # deterministic stand-in for random.random
    prof._random = lambda: next(draws)
    client = app.test_client()
    try:
        marks = [profiled(client.get("/json")) for _ in range(25)]
    finally:
        close_app(app)
    assert marks[:5] == [True] * 5
    assert marks[5:] == [True, False, False, False] * 5


def test_session_file_format(tmp_path):
    app = make_app(tmp_path, PROFILE_RATE=1.0, PROFILE_MIN_PER_ENDPOINT=0)
    client = app.test_client()
    try:
        client.get("/cpu")
        client.get("/items/7")
        files = flush(app)
        assert flush(app) == files  # nothing buffered: no empty file
    finally:
        close_app(app)
    assert len(files) == 1 and files[0].name.endswith("-00000.json")
    assert not list(tmp_path.glob(".*"))  # no temp file left behind
    doc = json.loads(files[0].read_text())
    assert doc["kind"] == RAW_KIND and doc["format_version"] == 1
    assert doc["mode"] == "threads" and doc["interval"] == pytest.approx(0.0003)
    for s in doc["sessions"]:
        assert set(s) == {
            "endpoint",
            "start",
            "duration",
            "wall_ms",
            "cpu_ms",
            "status",
            "forced",
            "async",
            "root",
            "samples",
        }
        assert s["status"] == 200 and s["wall_ms"] > 0 and s["cpu_ms"] >= 0
        for stack_index, seconds in s["samples"]:
            assert 0 <= stack_index < len(doc["stacks"]) and seconds > 0
    assert all(0 <= i < len(doc["frames"]) for st in doc["stacks"] for i in st)
    rendered = [sess.target_description for sess in iter_pyinstrument_sessions(files[0])]
    assert rendered == ["GET /cpu", "GET /items/<int:item_id>"]


def test_a_failing_view_is_recorded_and_leaves_no_profiler(tmp_path):
    app = make_app(tmp_path, PROFILE_RATE=1.0, PROFILE_MIN_PER_ENDPOINT=0)

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    client = app.test_client()
    try:
        assert client.get("/boom").status_code == 500
        assert profiled(client.get("/json"))  # the thread can profile again
        got = sessions(flush(app))
    finally:
        close_app(app)
    assert [(s["endpoint"], s["status"]) for s in got] == [("GET /boom", 500), ("GET /json", 200)]


@pytest.mark.parametrize("runner", ["same-thread-loop", "thread-hop", "asgiref"])
def test_async_view_profile_shows_the_coroutine(tmp_path, runner):
    if runner == "asgiref":
        pytest.importorskip("asgiref")
    run = tmp_path / "run"
    out = run / "cells" / "c" / "r0" / "profiles"
    app = make_app(
        out,
        thread_hop=runner == "thread-hop",
        asgiref=runner == "asgiref",
        PROFILE_RATE=1.0,
        PROFILE_MIN_PER_ENDPOINT=0,
        PROFILE_INTERVAL=0.0001,  # async_compute (about 1 ms) gets several samples per request
    )
    client = app.test_client()
    try:
        for _ in range(8):
            resp = client.get("/async")
            assert resp.status_code == 200 and profiled(resp)
        assert not profiled(make_app(None).test_client().get("/async"))
        got = sessions(flush(app))
    finally:
        close_app(app)
    assert all(s["async"] for s in got)
    hotspots = json.loads(aggregate_run(run).read_text())
    rows = hotspots["cells"]["c"]["endpoints"]["GET /async"]["hotspots"]
    names = {r["function"]: r for r in rows}
    # the view's own frames and its await time, not the request thread waiting
    assert {"async_view", "async_workload", "async_compute", "[await]"} <= set(names)
    assert names["async_workload"]["share"] == 1.0
    assert names["[await]"]["total_ms"] >= 1.0  # asyncio.sleep(0.002) in every request
    # the middleware's own frames (its async-view wrappers included) are not the app's
    own = ("middleware", "async_views", "pyinstrument")
    assert not any(part in r["file"] for r in rows for part in own)


def test_installing_twice_is_one_installation(tmp_path):
    app = make_app(tmp_path, PROFILE_RATE=1.0)
    try:
        first = profiler_of(app)
        assert install_profiler(app, out_dir=tmp_path / "other") is first
    finally:
        close_app(app)


def test_explicit_arguments_override_config(tmp_path):
    app = Flask(__name__)
    app.config.update(PROFILE_DIR=str(tmp_path / "cfg"), PROFILE_RATE=1.0)

    @app.get("/x")
    def x():
        return "x"

    prof = install_profiler(app, out_dir=tmp_path / "arg", rate=0.0, min_per_endpoint=1)
    client = app.test_client()
    try:
        assert [profiled(client.get("/x")) for _ in range(3)] == [True, False, False]
        assert prof.out_dir == tmp_path / "arg" and prof.rate == 0.0
    finally:
        close_app(app)
    with pytest.raises(ValueError, match="PROFILE_RATE"):
        install_profiler(Flask(__name__), out_dir=tmp_path, rate=2.0)


def test_the_cost_budget_lowers_the_rate_of_a_call_heavy_endpoint(tmp_path):
    app = make_app(tmp_path, PROFILE_RATE=0.5, PROFILE_MIN_PER_ENDPOINT=3)
    prof = profiler_of(app)
    draws = iter([0.6, 0.3] * 100)  # every other request would be profiled at rate 0.5
    prof._random = lambda: next(draws)
    client = app.test_client()
    try:
        marks = [profiled(client.get("/cpu")) for _ in range(40)]
        files = flush(app)
    finally:
        close_app(app)
    # fib under pyinstrument's per-call hook is several times slower: at a 4% budget
    # the rate falls well under 0.3, so after the first unprofiled request none is drawn
    stats = read_raw(files[-1])["endpoints"]["GET /cpu"]
    assert stats["seen"] == 40 and stats["profiled"] == sum(marks)
    assert stats["rate"] < 0.3
    assert marks[:3] == [True] * 3 and sum(marks[3:]) <= 2
