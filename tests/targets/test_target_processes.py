"""Real processes: the upstream service, each variant under gunicorn, concurrent writers."""

from __future__ import annotations

import concurrent.futures
import shutil
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
from sqlalchemy import func, select

from harness.stack.processes import LOOPBACK, Child, Supervisor, free_port, wait_http_ready
from targets.catalog import TARGETS, app_spec
from targets.common.db import create_db_engine, prepare_database, user_account, world
from targets.verify import verify_url

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def start_upstream(sup: Supervisor, log_dir: Path) -> tuple[Child, str]:
    port = free_port()
    child = sup.start(
        "upstream",
        [sys.executable, "-m", "targets.upstream", "--host", LOOPBACK, "--port", str(port)],
        log_path=log_dir / "upstream.log",
        cwd=ROOT,
    )
    url = f"http://{LOOPBACK}:{port}"
    wait_http_ready(child, f"{url}/healthz", timeout=30)
    return child, url


class CountingUpstream:
    """An in-process upstream that counts how many calls are in flight at once.

    Each call is held until ``calls`` are in flight or ``hold_s`` passes, so overlapping
    calls are seen overlapping however slow the machine is, and sequential ones never.
    """

    def __init__(self, calls: int, hold_s: float = 0.3) -> None:
        self.calls, self.hold_s = calls, hold_s
        self.in_flight = self.max_in_flight = 0
        self.cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with outer.cond:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                    outer.cond.notify_all()
                    outer.cond.wait_for(lambda: outer.in_flight >= outer.calls, outer.hold_s)
                body = b'{"delay_ms": 0}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with outer.cond:
                    outer.in_flight -= 1

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def measure(self, client, path: str) -> int:
        """The most calls in flight at once while ``client`` serves ``path``."""
        self.max_in_flight = 0
        response = client.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert len(response.get_json()["results"]) == self.calls
        return self.max_in_flight

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_async_overlaps_upstream_calls_sync_does_not(make_app):
    upstream = CountingUpstream(calls=5)
    try:
        sync = make_app("sync", UPSTREAM_URL=upstream.url).test_client()
        async_ = make_app("async", UPSTREAM_URL=upstream.url).test_client()
        path = "/upstream?calls=5&delay_ms=1"
        assert upstream.measure(sync, path) == 1  # one call after another
        assert upstream.measure(async_, path) == 5  # all five at once
    finally:
        upstream.close()


def test_upstream_service_contract(tmp_path):
    with Supervisor(grace=2.0) as sup:
        _child, url = start_upstream(sup, tmp_path)
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/delay", params={"ms": 5}).json() == {"delay_ms": 5}
            for bad in ("-1", "10001", "x", "1e3"):
                assert http.get("/delay", params={"ms": bad}).status_code == 400


def test_upstream_refuses_remote_bind(tmp_path):
    with Supervisor(grace=2.0) as sup:
        child = sup.start(
            "upstream",
            [sys.executable, "-m", "targets.upstream", "--host", "0.0.0.0", "--port", "0"],
            log_path=tmp_path / "refused.log",
            cwd=ROOT,
        )
        assert child.popen.wait(timeout=30) == 2
    assert "--allow-remote" in (tmp_path / "refused.log").read_text()


def test_every_variant_under_gunicorn(tmp_path, seeded_db):
    """Each variant serves from 2 workers; nothing is left behind.

    The first variant's two workers seed one fresh database together (the seeding
    lock); the others start on copies of a seeded one, which is cheaper.
    """
    assert GUNICORN.exists(), f"{GUNICORN} is missing: run bash scripts/setup.sh"
    pids: list[int] = []
    with Supervisor(grace=5.0) as sup:
        _upstream, upstream_url = start_upstream(sup, tmp_path)
        servers = {}
        for n, target in enumerate(TARGETS):
            if n:
                shutil.copyfile(seeded_db, tmp_path / f"{target}.sqlite3")
            port = free_port()
            env = {
                "FLASK_DATABASE_URL": f"sqlite:///{tmp_path / target}.sqlite3",
                "FLASK_SECRET_KEY": f"test-{target}",
                "FLASK_UPSTREAM_URL": upstream_url,
            }
            argv = [
                str(GUNICORN),
                "--bind",
                f"{LOOPBACK}:{port}",
                "--workers",
                "2",
                "--graceful-timeout",
                "3",
                app_spec(target),
            ]
            log = tmp_path / f"{target}.log"
            child = sup.start(f"gunicorn {target}", argv, log_path=log, env=env, cwd=ROOT)
            servers[target] = (child, f"http://{LOOPBACK}:{port}", log)
        for target, (child, url, log) in servers.items():
            wait_http_ready(child, f"{url}/healthz", timeout=90)
            pids += [child.pid, *(p.pid for p in psutil.Process(child.pid).children(True))]
            assert verify_url(url) == [], f"{target}: see {log}"
        for child, _url, _log in servers.values():  # shut down side by side, not in turn
            child.signal_group(signal.SIGTERM)
    for _target, (_child, _url, log) in servers.items():
        assert "Traceback" not in log.read_text()
    alive = [pid for pid in pids if psutil.pid_exists(pid) and not _zombie(pid)]
    assert not alive, alive


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_concurrent_seeding_seeds_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    engines = [create_db_engine(url) for _ in range(4)]
    with concurrent.futures.ThreadPoolExecutor(len(engines)) as pool:
        seeded = list(pool.map(prepare_database, engines))
    assert seeded.count(True) == 1
    with engines[0].connect() as conn:
        assert conn.execute(select(func.count()).select_from(world)).scalar_one() == 10_000
        assert conn.execute(select(func.count()).select_from(user_account)).scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    for engine in engines:
        engine.dispose()


def test_concurrent_writers_never_fail(make_app):
    """Two apps (two workers' pools) on one file, several threads each hammering /updates."""
    apps = [make_app("sync", db_name="shared"), make_app("cached", db_name="shared")]

    def hammer(app) -> list[int]:
        client = app.test_client()
        return [client.get("/updates?queries=20").status_code for _ in range(8)]

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = [s for r in pool.map(hammer, apps * 3) for s in r]
    assert statuses == [200] * len(statuses)
