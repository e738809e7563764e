"""Where the time goes, on real servers: Server-Timing parts as the summary reports them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import bench, latest_run, load

pytestmark = pytest.mark.e2e

# the scenarios' parameters (loadtests/endpoints.py, which imports locust: not importable here)
QUERIES, UPSTREAM_CALLS, UPSTREAM_DELAY_MS = 20, 3, 20

SHORT = ["--warmup", "1s", "--duration", "3s"]


def _breakdowns(run_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(cell id, endpoint) -> breakdown of the first repetition."""
    out = {}
    for row in load(run_dir, "summary.json")["rows"]:
        for name, figure in row["endpoints"].items():
            if figure.get("breakdown"):
                out[(row["cell_id"], name)] = figure["breakdown"]
    return out


def test_queries_and_queueing_on_one_sync_worker(workdir: Path) -> None:
    # one sync worker (no threads, no GIL sharing inside the app), 16 users at once:
    # requests wait in the listen backlog
    result = bench(
        [
            "run",
            "--target",
            "sync",
            "--scenario",
            "queries",
            "--scenario",
            "json",
            "--server",
            "gunicorn-sync",
            "--workers",
            "1",
            "--users",
            "16",
            *SHORT,
            "--name",
            "parts",
        ],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = latest_run(workdir / "runs")
    parts = _breakdowns(run_dir)
    q = parts[("sync-gunicorn-sync-queries", "GET /queries")]
    assert q["queries"]["min"] == q["queries"]["max"] == QUERIES  # exactly, every request
    assert q["parts"]["db"]["mean"] > 0.5 * q["parts"]["app"]["mean"]  # the larger part
    assert q["n_plus_one"] and f"{QUERIES} queries per request" in q["n_plus_one"]
    assert "up" in q["parts"] and "tpl" in q["parts"]  # the target can see them: zero here
    fast = parts[("sync-gunicorn-sync-json", "GET /json")]
    assert fast["dominant"] == "queue", fast
    assert fast["parts"]["queue"]["p99"] > 3 * fast["parts"]["app"]["p99"]
    assert fast["queries"]["max"] == 0 and fast["n_plus_one"] is None
    html = (run_dir / "report.html").read_text()
    assert "Where the time goes inside a request" in html
    assert "queueing dominates the tail" in html


CALLS, DELAY_MS = 4, 100  # long enough that connecting is small beside the delay
UPSTREAM_LOCUSTFILE = f"""
from locust import FastHttpUser, constant, task


class UpstreamUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def upstream(self):
        self.client.get("/upstream?calls={CALLS}&delay_ms={DELAY_MS}", name="/upstream")

    @task(2)
    def queries(self):
        self.client.get("/queries?queries=5", name="/queries")
"""


def test_upstream_time_is_calls_times_delay_sync_and_one_delay_async(
    tmp_path: Path, workdir: Path
) -> None:
    locustfile = tmp_path / "upstream_calls.py"
    locustfile.write_text(UPSTREAM_LOCUSTFILE)
    result = bench(
        [
            "run",
            "--target",
            "sync",
            "--target",
            "async",
            "--scenario",
            str(locustfile),
            "--users",
            "2",
            *SHORT,
        ],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    parts = _breakdowns(latest_run(workdir / "runs"))
    up = {
        t: parts[(f"{t}-gunicorn-gthread-upstream_calls", "GET /upstream")]["parts"]
        for t in ("sync", "async")
    }
    # sync calls one after another: about calls x delay; async gathers them: about one delay
    assert 0.95 <= up["sync"]["up"]["p50"] / (CALLS * DELAY_MS) <= 1.5, up["sync"]
    assert 0.95 <= up["async"]["up"]["p50"] / DELAY_MS <= 1.9, up["async"]
    assert up["sync"]["up"]["p50"] / up["async"]["up"]["p50"] > 0.6 * CALLS
    for t in ("sync", "async"):
        assert up[t]["up"]["mean"] > 0.8 * up[t]["app"]["mean"]  # the view mostly waits
        q = parts.get((f"{t}-gunicorn-gthread-upstream_calls", "GET /queries"))
        assert q is not None, sorted(parts)
        assert q["queries"]["min"] == q["queries"]["max"] == 5  # async: the view's loop too


WITH_SQLALCHEMY = """
from flask import Flask, jsonify
from sqlalchemy import create_engine, text

app = Flask(__name__)
engine = create_engine("sqlite://")


@app.get("/three")
def three():
    with engine.connect() as conn:
        values = [conn.execute(text("SELECT :n"), {"n": n}).scalar() for n in range(3)]
    return jsonify(values=values)
"""

WITHOUT_SQLALCHEMY = """
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "hello"
"""


@pytest.mark.parametrize(
    ("source", "endpoint", "queries"),
    [
        (WITH_SQLALCHEMY, "GET /three", 3),
        (WITHOUT_SQLALCHEMY, "GET /", None),
    ],
    ids=["with-sqlalchemy", "without-sqlalchemy"],
)
def test_a_users_app_gets_the_parts_it_can_see(
    tmp_path: Path, workdir: Path, source: str, endpoint: str, queries: int | None
) -> None:
    (tmp_path / "userapp.py").write_text(source)
    result = bench(
        [
            "run",
            "--app",
            "userapp:app",
            "--app-dir",
            str(tmp_path),
            "--server",
            "gunicorn-sync",
            "--workers",
            "1",
            "--users",
            "2",
            *SHORT,
        ],
        workdir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = latest_run(workdir / "runs")
    found = {name: b for (_cell, name), b in _breakdowns(run_dir).items()}
    assert list(found) == [endpoint], load(run_dir, "summary.json")
    b = found[endpoint]
    assert b["timed"] > 0
    assert "tpl" in b["parts"]  # a Flask app: rendering is visible (zero here)
    assert "up" not in b["parts"]  # imports no HTTP client: absent, not zero
    if queries is None:
        assert "db" not in b["parts"] and b["queries"] is None
    else:
        assert b["queries"]["min"] == b["queries"]["max"] == queries
        assert b["parts"]["db"]["p50"] > 0


# CPU per request: known work (targets/common/workload.py: cpu_work(n), a loop of n steps)
# on a gthread server, where the request thread's CPU clock is the request's own, and on a
# gevent server, where it is not and the figure must be absent with the reason
CPU_N = 50_000
CPU_LOCUSTFILE = f"""
from locust import FastHttpUser, constant, task


class CpuUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def one(self):
        self.client.get("/cpu?n={CPU_N}", name="/cpu n")

    @task
    def two(self):
        self.client.get("/cpu?n={2 * CPU_N}", name="/cpu 2n")
"""


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("cpu")
    (workdir / "cpu_work.py").write_text(CPU_LOCUSTFILE)
    result = bench(
        [
            "run",
            "--target",
            "sync",
            "--server",
            "gunicorn-gthread",
            "--server",
            "gunicorn-gevent",
            "--workers",
            "1",
            "--scenario",
            "cpu_work.py",
            "--users",
            "2",
            *SHORT,
        ],
        workdir,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return latest_run(workdir / "runs")


def _row(run_dir: Path, server: str) -> dict[str, Any]:
    rows = [r for r in load(run_dir, "summary.json")["rows"] if r["server"] == server]
    assert len(rows) == 1, [r["cell_id"] for r in rows]
    return rows[0]


def _own_cpu_ms(n: int) -> float:
    """This process's thread CPU for the same work: the least of a few tries."""
    from targets.common.workload import cpu_work

    best = float("inf")
    for _ in range(5):
        t0 = time.thread_time_ns()
        cpu_work(n)
        best = min(best, (time.thread_time_ns() - t0) / 1e6)
    return best


def test_cpu_per_request_on_gthread_is_the_views_work(cpu_run: Path) -> None:
    row = _row(cpu_run, "gunicorn-gthread")
    one = row["endpoints"]["GET /cpu n"]
    two = row["endpoints"]["GET /cpu 2n"]
    for e in (one, two):
        assert e["cpu_absent"] is None and e["cpu_ms"]["count"] > 10, e
        assert e["cpu_ms"]["mean"] < e["latency_ms"]["mean"]  # CPU is within the wall time
    own = _own_cpu_ms(CPU_N)
    # the request's CPU is the loop plus Flask's and the middleware's own (a fraction of
    # a ms); CPU time per unit of work moves with what runs on the sibling hardware
    # thread and the caches (on this loaded 2-CPU machine, cpu_work(50_000) took 2.8 to
    # 5.4 ms of thread CPU over 40 tries): tolerant factors
    assert 0.5 * own <= one["cpu_ms"]["p50"] <= 2.5 * own + 1.0, (own, one["cpu_ms"])
    # twice the work: the difference is the loop's CPU, the ratio close to 2
    assert 0.5 * own <= two["cpu_ms"]["p50"] - one["cpu_ms"]["p50"] <= 2.0 * own
    assert 1.3 <= two["cpu_ms"]["mean"] / one["cpu_ms"]["mean"] <= 3.0
    # the whole server per request served: the request threads' CPU and the server's own
    server = row["server_cpu_ms_per_request"]
    everything = row["endpoints"]["ALL"]["cpu_ms"]["mean"]
    assert everything is not None and server is not None
    assert 0.8 * everything <= server <= 3.0 * everything + 1.0, (server, everything)


def test_cpu_per_request_under_gevent_is_absent_with_the_reason(cpu_run: Path) -> None:
    row = _row(cpu_run, "gunicorn-gevent")
    for name in ("GET /cpu n", "GET /cpu 2n"):
        e = row["endpoints"][name]
        assert e["cpu_ms"] is None, e  # never a number that is not the request's own
        assert set(e["cpu_absent"]) == {"gevent"}
        assert e["cpu_absent"]["gevent"] == e["breakdown"]["timed"]
    # the server as a whole still has a figure: its CPU per request served
    assert row["server_cpu_ms_per_request"] is not None
    assert row["server_cpu_ms_per_request"] > 0.6 * _own_cpu_ms(CPU_N)  # at least the n's
    html = (cpu_run / "report.html").read_text()
    assert "CPU ms/req" in html and "absent: gevent" in html
