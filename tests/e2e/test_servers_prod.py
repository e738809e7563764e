"""granian (WSGI interface) and uWSGI (pyuwsgi): measured, profiled, and gone afterwards.

One ``bench.py profile`` run over both servers and /json and /db (four cells) answers
every test here.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import psutil
import pytest

from tests.e2e.helpers import REPO, latest_run, load

pytestmark = pytest.mark.e2e
SERVERS = ("granian", "uwsgi")
SCENARIOS = {"json": "GET /json", "db": "GET /db"}


def _is_server(cmdline: list[str]) -> bool:
    return any(part.endswith(("/granian", "/uwsgi")) for part in cmdline[:2])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("servers")
    args = [sys.executable, str(REPO / "bench.py"), "profile", "--target", "sync"]
    args += [a for s in SERVERS for a in ("--server", s)]
    args += [a for s in SCENARIOS for a in ("--scenario", s)]
    args += ["--workers", "1", "--threads", "4", "--users", "4", "--profile-rate", "0.2"]
    args += ["--warmup", "1s", "--duration", "6s", "--out", str(work / "runs")]
    proc = subprocess.Popen(args, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: set[int] = set()  # every granian / uWSGI process the run started
    deadline = time.monotonic() + 500
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            for kid in psutil.Process(proc.pid).children(recursive=True):
                try:
                    if _is_server(kid.cmdline()):
                        seen.add(kid.pid)
                except psutil.Error:
                    continue
        except psutil.NoSuchProcess:
            break
        time.sleep(0.3)
    if proc.poll() is None:
        proc.kill()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    run_dir = latest_run(work / "runs")
    return {"dir": run_dir, "seen": seen, "summary": load(run_dir, "summary.json")}


def _row(run: dict[str, Any], server: str, scenario: str) -> dict[str, Any]:
    rows = [r for r in run["summary"]["rows"] if (r["server"], r["scenario"]) == (server, scenario)]
    assert len(rows) == 1, [r["cell_id"] for r in run["summary"]["rows"]]
    return rows[0]


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_measured_with_server_timing(run: dict[str, Any], server: str, scenario: str) -> None:
    row = _row(run, server, scenario)
    assert row["verify"].startswith("passed"), row["verify"]
    endpoint = row["endpoints"][SCENARIOS[scenario]]
    assert endpoint["requests"] > 0 and not endpoint["failures"], endpoint
    parts = endpoint["breakdown"]["parts"]
    assert {"queue", "app"} <= set(parts)  # the server's start time reached the recorder
    if scenario == "db":
        assert endpoint["breakdown"]["queries"]["p50"] == 1
    cell = run["dir"] / row["dir"]
    assert (cell / "server.log").stat().st_size > 0


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_profiled_hotspots_present(run: dict[str, Any], server: str, scenario: str) -> None:
    row = _row(run, server, scenario)
    cells = load(run["dir"], "profiles/hotspots.json")["cells"]
    hotspots = cells[row["cell_id"]]["endpoints"]
    entry = hotspots[SCENARIOS[scenario]]
    assert entry["profiled_requests"] > 0
    assert entry["hotspots"], entry


def test_the_commands_are_the_servers_own(run: dict[str, Any]) -> None:
    commands = load(run["dir"], "meta.json")["commands"]
    granian = next(c for c in commands if c[0].endswith("/granian"))
    assert granian[granian.index("--interface") + 1] == "wsgi" and "--factory" in granian
    uwsgi = next(c for c in commands if c[0].endswith("/uwsgi"))
    assert uwsgi[uwsgi.index("--processes") + 1] == "1"
    assert uwsgi[uwsgi.index("--threads") + 1] == "4"


def test_no_server_process_left(run: dict[str, Any]) -> None:
    assert run["seen"], "no granian or uWSGI process was seen during the run"
    left = []
    for pid in run["seen"]:
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE and _is_server(proc.cmdline()):
                left.append(pid)
        except psutil.NoSuchProcess:
            continue
    assert not left
