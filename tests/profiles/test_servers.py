"""The middleware under real servers: gunicorn gthread (2 workers x 4 threads), gevent, Werkzeug.

Each server is loaded with a bounded number of concurrent requests from Python, stopped
gracefully (SIGTERM, so the sessions buffered in each worker are flushed at exit), and
the run folder is aggregated.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import sys
import urllib.request
from pathlib import Path

import pytest

from harness.stack.processes import LOOPBACK, Supervisor, free_port, wait_http_ready
from profiles.aggregate import aggregate_run
from profiles.middleware import HEADER
from profiles.session import raw_session_files
from tests.profiles.test_aggregate import validate_speedscope

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
APP = "tests.profiles.profiled_app:create_app()"
PATHS = ["/cpu", "/db", "/async", "/json", "/items/3"]
ROUNDS = 24
MIN_N = 4


def server_argv(kind: str, port: int) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if kind == "werkzeug":
        return [
            sys.executable,
            "-m",
            "flask",
            "--app",
            APP,
            "run",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--no-reload",
            "--no-debugger",
            "--with-threads",
        ]
    argv = [
        str(bin_dir / "gunicorn"),
        "--bind",
        f"{LOOPBACK}:{port}",
        "--workers",
        "2",
        "--graceful-timeout",
        "3",
        "--worker-class",
        kind,
    ]
    if kind == "gthread":
        argv += ["--threads", "4"]
    return [*argv, APP]


def drive(base: str, paths: list[str], concurrency: int = 8) -> list[tuple[str, int, bool]]:
    """GET each path once, ``concurrency`` at a time: (path, status, profiled)."""

    def get(path: str) -> tuple[str, int, bool]:
        with urllib.request.urlopen(base + path, timeout=30) as resp:
            resp.read()
            return path, resp.status, resp.headers.get(HEADER) == "1"

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(get, paths))


def serve_and_load(kind: str, cell_dir: Path, profile: bool) -> list[tuple[str, int, bool]]:
    env = {
        "PYTHONPATH": str(REPO),
        "FLASK_PROFILE_RATE": "0.2",
        "FLASK_PROFILE_MIN_PER_ENDPOINT": str(MIN_N),
        # longer than the test: what reaches the disk was written at exit
        "FLASK_PROFILE_FLUSH_INTERVAL": "30",
    }
    if profile:
        env["FLASK_PROFILE_DIR"] = str(cell_dir / "profiles")
    port = free_port()
    with Supervisor(grace=8) as sup:
        child = sup.start(
            kind, server_argv(kind, port), log_path=cell_dir / "server.log", env=env, cwd=REPO
        )
        base = f"http://{LOOPBACK}:{port}"
        wait_http_ready(child, base + "/healthz", timeout=30)
        results = drive(base, PATHS * ROUNDS)
        # then each path once more, one at a time: the profiling slot is free, so a gevent
        # worker owing an endpoint a turn (sampled while busy) profiles it now, and one
        # that owes none has profiled it already (its first requests all earn a turn)
        results += drive(base, PATHS, concurrency=1)
        sup.stop(child)  # SIGTERM: workers flush their buffers at exit
    return results


@pytest.mark.parametrize("kind", ["gthread", "gevent", "werkzeug"])
def test_profiled_server(tmp_path, kind):
    run = tmp_path / "run"
    cell = f"test-{kind}-mixed"
    results = serve_and_load(kind, run / "cells" / cell / "r0", profile=True)
    log = (run / "cells" / cell / "r0" / "server.log").read_text()
    assert all(status == 200 for _, status, _ in results), log[-3000:]
    marked = collections.Counter(path for path, _, prof in results if prof)
    unmarked = collections.Counter(path for path, _, prof in results if not prof)
    assert sum(unmarked.values()) > 0  # rate 0.2: most requests are not profiled

    files = raw_session_files(run)[cell]
    writers = {f.name.split("-")[0] for f in files}  # one per worker that profiled
    assert 1 <= len(writers) <= (1 if kind == "werkzeug" else 2)
    doc = json.loads(aggregate_run(run).read_text())
    eps = doc["cells"][cell]["endpoints"]
    by_path = {
        "/cpu": "GET /cpu",
        "/db": "GET /db",
        "/async": "GET /async",
        "/json": "GET /json",
        "/items/3": "GET /items/<int:item_id>",
    }
    for path, label in by_path.items():
        # every marked response has its session on disk, and only those
        assert eps[label]["profiled_requests"] == marked[path], (label, log[-2000:])
        # gevent profiles one request at a time per worker: a turn owed while the slot
        # is busy waits for a later request of that endpoint (the sequential last round)
        assert marked[path] >= (1 if kind == "gevent" else MIN_N)
    assert "Traceback" not in log, log[-3000:]

    def top(label: str, n: int = 5) -> list[str]:
        return [r["function"] for r in eps[label]["hotspots"][:n]]

    # sampled: on a machine busy with other test files, the view's own frame can take a
    # top place; the two functions it spends its time in must still be among the first ten
    assert "crunch_numbers" in top("GET /cpu", 10) and "fib" in top("GET /cpu", 10)
    assert "fetch_rows" in top("GET /db") or (
        kind == "gevent" and "[out-of-context]" in top("GET /db")
    )
    async_rows = {r["function"] for r in eps["GET /async"]["hotspots"]}
    assert {"async_view", "async_workload", "async_compute", "[await]"} <= async_rows
    validate_speedscope(json.loads((run / doc["speedscope"]).read_text()))


def test_unprofiled_server_profiles_nothing(tmp_path):
    cell_dir = tmp_path / "run" / "cells" / "c" / "r0"
    results = serve_and_load("gthread", cell_dir, profile=False)
    assert all(status == 200 and not prof for _, status, prof in results)
    assert not (cell_dir / "profiles").exists()
