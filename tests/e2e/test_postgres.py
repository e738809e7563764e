"""--database postgres: a real PostgreSQL server per run, and nothing left behind.

One run over the four targets (one server for the whole module) answers the measured
questions; the exit paths (Ctrl-C to the process group, a SIGKILL'd gunicorn) each start
their own server, since what they check is that it goes away.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from harness.stack import postgres
from harness.stack.processes import Supervisor, free_port
from runfolder.errors import ProcessError
from tests.e2e.helpers import REPO, bench, latest_run, load

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not postgres.installed(), reason="Debian's postgresql is not installed"),
]
TARGETS = ("sync", "async", "cached", "uncached")


def postmasters() -> dict[int, str]:
    """Every PostgreSQL server this harness started (pid -> data folder), found by the
    temporary folder its data lives in."""
    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if cmd and cmd[0].endswith("/postgres") and "-D" in cmd:
            data = cmd[cmd.index("-D") + 1]
            if "flask-bench-pg-" in data:
                found[proc.pid] = data
    return found


def wait_gone(pids: list[int], timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and _not_zombie(p)]
        if not alive:
            break
        time.sleep(0.2)
    return alive


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def pg_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run: every target on /queries?queries=20, on one PostgreSQL server."""
    work = tmp_path_factory.mktemp("pg")
    before = set(postmasters())
    args = ["run", "--database", "postgres", "--db-pool", "4", "--scenario", "queries"]
    args += [a for t in TARGETS for a in ("--target", t)]
    args += ["--workers", "1", "--threads", "4", "--users", "4"]
    args += ["--warmup", "1s", "--duration", "6s", "--out", str(work / "runs")]
    result = bench(args, cwd=work, timeout=400)
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(postmasters()) <= before, "the run left its PostgreSQL server running"
    return latest_run(work / "runs")


def test_every_endpoint_of_every_target_verifies_on_postgres(pg_run: Path) -> None:
    rows = load(pg_run, "summary.json")["rows"]
    assert sorted(r["target"] for r in rows) == sorted(TARGETS)
    for row in rows:
        assert row["verify"].startswith("passed"), row["verify"]
        queries = row["endpoints"]["GET /queries"]
        assert queries["requests"] > 0 and not queries["failures"], queries


def test_queries_shows_20_queries_per_request(pg_run: Path) -> None:
    rows = {r["target"]: r for r in load(pg_run, "summary.json")["rows"]}
    per_request = rows["sync"]["endpoints"]["GET /queries"]["breakdown"]["queries"]
    assert per_request["p50"] == 20 and per_request["max"] == 20, per_request


def test_meta_records_the_server_version_settings_and_pool(pg_run: Path) -> None:
    meta = load(pg_run, "meta.json")
    db = meta["database"]
    assert db["kind"] == "postgres" and db["managed"] is True
    assert db["version"].split(".")[0].isdigit()
    assert db["settings"]["listen_addresses"] == "127.0.0.1"
    assert db["db_pool"] == 4 and meta["config"]["database"] == "postgres"
    assert (pg_run / "postgres.log").stat().st_size > 0  # the server's log in the run folder
    assert not list(Path("/tmp").glob("flask-bench-pg-*/data/postmaster.pid"))


def _serve(work: Path, port: int) -> subprocess.Popen[str]:
    """``bench.py serve --instances 2 --database postgres`` in a session of its own, as a
    shell job: two instances behind nginx on one PostgreSQL."""
    args = [sys.executable, str(REPO / "bench.py"), "serve", "--target", "sync", "--instances"]
    args += ["2", "--server", "gunicorn-sync", "--workers", "1", "--database", "postgres"]
    args += ["--port", str(port), "--db", str(work / "serve.sqlite3")]
    return subprocess.Popen(
        args,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_serving(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("serve never listened")


def _own_postmaster(proc: subprocess.Popen[str]) -> tuple[int, str]:
    kids = psutil.Process(proc.pid).children(recursive=True)
    mine = {p: d for p, d in postmasters().items() if p in {k.pid for k in kids}}
    assert len(mine) == 1, mine
    return next(iter(mine.items()))


def test_ctrl_c_to_the_process_group_leaves_no_postgres(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path, port)
    try:
        _wait_serving(proc, port)
        pid, data = _own_postmaster(proc)  # one server for both instances
        for _ in range(4):  # round robin: both instances answer from the shared database
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/db", timeout=30) as resp:
                assert resp.status == 200
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert not wait_gone([pid]), "postgres outlived Ctrl-C"
    assert not Path(data).exists(), f"data folder {data} left behind"


def test_a_killed_gunicorn_ends_the_run_and_its_postgres(tmp_path: Path) -> None:
    args = [sys.executable, str(REPO / "bench.py"), "run", "--target", "sync"]
    args += ["--scenario", "db", "--database", "postgres", "--users", "2"]
    args += ["--warmup", "1s", "--duration", "60s", "--out", str(tmp_path / "runs")]
    proc = subprocess.Popen(
        args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 180
        gunicorn = None
        while time.monotonic() < deadline and gunicorn is None:
            kids = psutil.Process(proc.pid).children(recursive=True)
            if any("locust" in " ".join(k.cmdline()) for k in kids if _not_zombie(k.pid)):
                gunicorn = next(
                    k for k in kids if k.ppid() == proc.pid and "gunicorn" in " ".join(k.cmdline())
                )
            time.sleep(0.2)
        assert gunicorn is not None, "the run never reached its load"
        pid, data = _own_postmaster(proc)
        time.sleep(3)  # into the measured load, not Locust's start
        os.killpg(gunicorn.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err[-2000:]
    # the error names the server's death, or (killed as Locust started) its missing results
    assert "Error:" in err, err[-2000:]
    assert not wait_gone([pid]), "postgres outlived the crashed run"
    assert not Path(data).exists(), f"data folder {data} left behind"
    meta = load(latest_run(tmp_path / "runs"), "meta.json")
    assert meta["status"] == "failed" and meta["database"]["kind"] == "postgres"


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_database_url_to_a_port_that_is_not_postgres(tmp_path: Path) -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        url = f"postgresql://bench@127.0.0.1:{port}/bench"
        result = bench(
            ["run", "--database-url", url, "--scenario", "db", "--out", str(tmp_path / "runs")],
            cwd=tmp_path,
            timeout=60,
        )
    assert result.returncode == 2
    line = _one_line_error(result)
    assert f"no PostgreSQL answered at 127.0.0.1:{port}" in line
    assert not (tmp_path / "runs").exists()  # bad input: no run folder


def test_database_url_elsewhere_needs_allow_remote(tmp_path: Path) -> None:
    result = bench(
        ["run", "--database-url", "postgresql://bench@10.9.8.7:5432/bench", "--scenario", "db"],
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2 and "--allow-remote" in _one_line_error(result)


def test_missing_initdb_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-postgres"
    empty.mkdir()
    monkeypatch.setenv(postgres.BIN_ENV, str(empty))  # as if the package were not installed
    result = bench(
        ["run", "--database", "postgres", "--scenario", "db", "--out", str(tmp_path / "runs")],
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    line = _one_line_error(result)
    assert "bash scripts/setup.sh --test" in line and "apt-get install postgresql" in line
    assert not (tmp_path / "runs").exists()


def test_the_chosen_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        before = set(Path("/tmp").glob("flask-bench-pg-*"))
        with Supervisor() as sup, pytest.raises(ProcessError) as err:
            postgres.start_postgres(sup, tmp_path / "postgres.log", port=port)
    assert f"port {port}" in str(err.value) and "\n" not in str(err.value)
    assert set(Path("/tmp").glob("flask-bench-pg-*")) <= before
