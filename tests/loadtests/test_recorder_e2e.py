"""Real Locust runs (a few seconds each) against a real server on 127.0.0.1.

The server is ``bench_app.py`` under Werkzeug (threaded): its answers are known, so the
recorder's counts can be checked against Locust's own totals. Never absolute timings:
the machine is shared.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.stack.processes import Supervisor, free_port, wait_http_ready
from loadtests import histograms as H
from loadtests.catalog import locustfile_path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LOCUST = str(Path(sys.executable).parent / "locust")
CHECKS = HERE / "checks_locustfile.py"

pytestmark = pytest.mark.e2e


@pytest.fixture
def sup() -> Iterator[Supervisor]:
    with Supervisor(grace=3.0) as s:
        yield s


def start_app(sup: Supervisor, tmp_path: Path, env: dict[str, str] | None = None) -> str:
    port = free_port()
    child = sup.start(
        "bench_app",
        [sys.executable, str(HERE / "bench_app.py"), str(port)],
        log_path=tmp_path / "app.log",
        env=env,
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http_ready(child, url + "/healthz", timeout=20)
    return url


def run_locust(
    sup: Supervisor,
    tmp_path: Path,
    locustfile: Path,
    classes: list[str],
    host: str,
    *extra: str,
    users: int = 4,
    seconds: int = 3,
    timeout: float = 40,
    out: Path | None = None,
) -> tuple[dict[str, Any], str]:
    out = out or tmp_path / "out"
    argv = [
        LOCUST,
        "-f",
        str(locustfile),
        *classes,
        "--headless",
        "--host",
        host,
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--stop-timeout",
        "3",
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--bench-out",
        str(out),
        *extra,
    ]
    log = tmp_path / "locust.log"
    child = sup.start("locust", argv, log_path=log, cwd=tmp_path)
    code = child.popen.wait(timeout=timeout)
    sup.stop(child)
    text = log.read_text()
    assert code == 0, text[-3000:]
    return json.loads((out / "recorder.json").read_text()), text


def processes_args(n: int) -> list[str]:
    """``--processes n`` with the master on a free loopback port (default: *:5557, shared)."""
    port = str(free_port())
    return [
        "--processes",
        str(n),
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        port,
        "--master-port",
        port,
    ]


def per_endpoint(rec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Sum every window: count, failures by status, profiled, merged histograms."""
    out: dict[str, dict[str, Any]] = {}
    for w in rec["windows"]:
        for name, e in w["endpoints"].items():
            acc = out.setdefault(
                name,
                {
                    "count": 0,
                    "failures": {},
                    "profiled": 0,
                    "hist": H.new_histogram(),
                    "corrected": None,
                },
            )
            hist = H.decode(e["hist"])
            assert H.total_count(hist) == e["count"]
            H.merge_into(acc["hist"], hist)
            acc["count"] += e["count"]
            acc["profiled"] += e["profiled"]
            for status, n in e["failures"].items():
                acc["failures"][status] = acc["failures"].get(status, 0) + n
            if e["corrected_hist"]:
                acc["corrected"] = acc["corrected"] or H.new_histogram()
                H.merge_into(acc["corrected"], H.decode(e["corrected_hist"]))
    return out


def assert_matches_locust(rec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every request Locust counted is in the recorder, exactly once."""
    mine = per_endpoint(rec)
    totals = rec["locust_totals"]
    assert set(mine) == set(totals)
    for name, acc in mine.items():
        failed = sum(acc["failures"].values())
        assert acc["count"] + failed + acc["profiled"] == totals[name]["requests"], name
        assert failed == totals[name]["failures"], name
    return mine


def test_closed_model_counts_failures_profiled_and_sub_ms_percentiles(sup, tmp_path) -> None:
    host = start_app(sup, tmp_path)
    classes = ["FailUser", "WrongTypeUser", "ProfiledUser", "RefusedUser"]
    rec, _ = run_locust(sup, tmp_path, CHECKS, classes, host, users=4, seconds=3)
    assert rec["format_version"] == 1 and rec["unit"] == "us" and rec["window_s"] == 1
    assert rec["processes"] == 1 and rec["open_model"] is None and rec["shape"] == "constant"
    assert all(isinstance(w["t"], int) for w in rec["windows"])
    mine = assert_matches_locust(rec)
    fail, wrong = mine["GET /fail"], mine["GET /wrongtype"]
    profiled, refused = mine["GET /profiled"], mine["GET /refused"]
    # failures by status, kept out of the latency histograms
    assert set(fail["failures"]) == {"500"} and fail["count"] > 0
    assert H.total_count(fail["hist"]) == fail["count"]
    assert set(wrong["failures"]) == {"CatchResponseError"} and wrong["count"] == 0
    assert set(refused["failures"]) == {"ConnectionRefusedError"} and refused["count"] == 0
    # profiled responses are counted, not timed
    assert profiled["profiled"] > 0 and profiled["failures"] == {}
    assert H.total_count(profiled["hist"]) == profiled["count"]
    # microsecond resolution: percentiles are not whole milliseconds
    ps = H.percentiles_ms(profiled["hist"], (10, 25, 50, 75, 90))
    assert any(v != math.floor(v) for v in ps.values()), ps


def test_processes_2_merge_exactly(sup, tmp_path) -> None:
    host = start_app(sup, tmp_path)
    rec, log = run_locust(
        sup,
        tmp_path,
        locustfile_path("json"),
        ["JsonUser"],
        host,
        *processes_args(2),
        users=4,
        seconds=3,
    )
    assert rec["processes"] == 2
    mine = assert_matches_locust(rec)
    assert mine["GET /json"]["count"] > 100
    assert "no final report" not in log


def test_open_model_keeps_its_rate_and_corrects_a_stall(sup, tmp_path) -> None:
    # the app stalls every request for 1 s once, after ~1.5 s of the run
    host = start_app(sup, tmp_path, env={"STALL_AFTER": "150", "STALL_MS": "1000"})
    rate = 100
    rec, _ = run_locust(
        sup,
        tmp_path,
        locustfile_path("json"),
        ["JsonUser"],
        host,
        "--bench-rate",
        str(rate),
        users=4,
        seconds=5,
    )
    om = rec["open_model"]
    assert om["rate"] == rate
    assert om["scheduled"] == om["sent"] + om["dropped"]
    assert om["dropped"] == 0
    assert om["late"] > 0  # requests that waited for a connection during the stall
    mine = assert_matches_locust(rec)
    acc = mine["GET /json"]
    assert acc["count"] == om["sent"]  # every request sent came back and was timed
    # achieved rate: the schedule's (the stall delays requests, it does not lose them)
    span = om["stopped_unix"] - om["started_unix"]
    assert 2 < span <= 5.5
    assert om["sent"] / span == pytest.approx(rate, rel=0.1)
    corrected, uncorrected = acc["corrected"], acc["hist"]
    assert H.total_count(corrected) == H.total_count(uncorrected)
    assert corrected.get_max_value() >= uncorrected.get_max_value()
    assert H.mean_us(corrected) > H.mean_us(uncorrected)
    # every window: corrected (from the intended time) >= uncorrected (from the send)
    for w in rec["windows"]:
        for e in w["endpoints"].values():
            c, u = H.decode(e["corrected_hist"]), H.decode(e["hist"])
            assert H.mean_us(c) >= H.mean_us(u) * 0.999
    # 4 connections: only 4 requests were on the wire when the server stalled
    c99 = H.percentiles_ms(corrected, (99,))[99]
    u99 = H.percentiles_ms(uncorrected, (99,))[99]
    assert c99 >= 500, (c99, u99)
    assert u99 < c99 / 2, (c99, u99)


def test_open_model_refused_for_a_stateful_scenario(sup, tmp_path) -> None:
    argv = [
        LOCUST,
        "-f",
        str(locustfile_path("browse")),
        "--headless",
        "--host",
        "http://127.0.0.1:9",
        "-u",
        "1",
        "-t",
        "2s",
        "--bench-rate",
        "10",
    ]
    log = tmp_path / "locust.log"
    child = sup.start("locust", argv, log_path=log, cwd=tmp_path)
    assert child.popen.wait(timeout=30) == 2
    sup.stop(child)
    assert "cannot run on the open model" in log.read_text()


def test_browse_runs_as_plain_locust_with_step_shape(sup, tmp_path) -> None:
    host = start_app(sup, tmp_path)
    rec, _ = run_locust(
        sup,
        tmp_path,
        locustfile_path("browse"),
        [],
        host,
        "--bench-shape",
        "step",
        users=4,
        seconds=4,
    )
    mine = assert_matches_locust(rec)
    assert {"GET /login", "POST /login", "GET /items", "GET /items/<int:item_id>"} <= set(mine)
    for name, acc in mine.items():
        assert acc["failures"] == {}, (name, acc["failures"])
    users = [w["users"] for w in rec["windows"] if w["users"] is not None]
    assert users and max(users) == 4 and min(users) < 4  # ramped in steps
    assert rec["shape"] == "step"


def test_browse_without_bench_options(sup, tmp_path) -> None:
    """``locust -f loadtests/browse.py`` alone: no recorder output, no error."""
    host = start_app(sup, tmp_path)
    argv = [
        LOCUST,
        "-f",
        str(locustfile_path("browse")),
        "--headless",
        "-u",
        "5",
        "-r",
        "5",
        "-t",
        "2s",
        "--host",
        host,
    ]
    log = tmp_path / "locust.log"
    child = sup.start("locust", argv, log_path=log, cwd=tmp_path)
    assert child.popen.wait(timeout=30) == 0, log.read_text()[-2000:]
    sup.stop(child)
    text = log.read_text()
    assert "Traceback" not in text
    assert "POST     /login" in text


def _post(url: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    import urllib.parse
    import urllib.request

    body = urllib.parse.urlencode(data or {}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as resp:
        return json.loads(resp.read())


def test_per_test_mode_writes_one_folder_per_test_started_in_the_web_ui(sup, tmp_path) -> None:
    import time

    host = start_app(sup, tmp_path)
    web = free_port()
    out = tmp_path / "out"
    argv = [
        LOCUST,
        "-f",
        str(locustfile_path("json")),
        "JsonUser",
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(web),
        "--host",
        host,
        "--bench-out",
        str(out),
        "--bench-per-test",
    ]
    log = tmp_path / "locust.log"
    child = sup.start("locust", argv, log_path=log, cwd=tmp_path)
    ui = f"http://127.0.0.1:{web}"
    wait_http_ready(child, ui + "/", timeout=20)
    for _ in range(2):
        started = _post(ui + "/swarm", {"user_count": 2, "spawn_rate": 2, "host": host})
        assert started["success"], started
        time.sleep(1.5)
        assert _post(ui + "/stop")["success"]
        time.sleep(0.5)
    sup.stop(child)  # SIGTERM: Locust shuts down
    folders = sorted(p.name for p in out.iterdir())
    assert folders == ["test-001", "test-002"], log.read_text()[-2000:]
    starts = []
    for name in folders:
        rec = json.loads((out / name / "recorder.json").read_text())
        mine = assert_matches_locust(rec)
        assert mine["GET /json"]["count"] > 0
        starts.append(rec["start_unix"])
    assert starts[1] > starts[0]


def test_scenarios_against_the_real_sync_target(sup, tmp_path) -> None:
    """browse, api_write and items on targets.sync_app under gunicorn: no failures at all."""
    if not (REPO / "targets" / "sync_app.py").exists():
        pytest.skip("targets/sync_app.py is not there yet")
    port = free_port()
    env = {
        "FLASK_SECRET_KEY": '"loadtests-e2e"',
        "FLASK_DATABASE_URL": json.dumps(f"sqlite:///{tmp_path / 'bench.sqlite3'}"),
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = sup.start(
        "gunicorn",
        [
            gunicorn,
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "-k",
            "gthread",
            "--threads",
            "4",
            "targets.sync_app:create_app()",
        ],
        log_path=tmp_path / "server.log",
        env=env,
        cwd=REPO,
    )
    host = f"http://127.0.0.1:{port}"
    wait_http_ready(server, host + "/healthz", timeout=30)
    files = ",".join(str(locustfile_path(s)) for s in ("browse", "api_write", "items"))
    rec, _ = run_locust(
        sup,
        tmp_path,
        Path(files),
        ["BrowseUser", "ApiWriteUser", "ItemsUser"],
        host,
        users=3,
        seconds=4,
    )
    mine = assert_matches_locust(rec)
    expected = {
        "GET /login",
        "POST /login",
        "GET /items",
        "GET /items/<int:item_id>",
        "POST /api/items",
        "GET /api/items/<int:item_id>",
    }
    assert expected <= set(mine), sorted(mine)
    for name, acc in mine.items():
        assert acc["failures"] == {}, (name, acc["failures"])


def test_sigterm_with_processes_2_keeps_every_request(sup, tmp_path) -> None:
    """The harness stops a run with SIGTERM to Locust's group (Ctrl-C, a dead server)."""
    import signal
    import time

    host = start_app(sup, tmp_path)
    out = tmp_path / "out"
    argv = [
        LOCUST,
        "-f",
        str(locustfile_path("json")),
        "JsonUser",
        "--headless",
        "--host",
        host,
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "60s",
        "--stop-timeout",
        "3",
        "--only-summary",
        *processes_args(2),
        "--bench-out",
        str(out),
    ]
    log = tmp_path / "locust.log"
    child = sup.start("locust", argv, log_path=log, cwd=tmp_path)
    deadline = time.monotonic() + 20
    while "All users spawned" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)
    child.signal_group(signal.SIGTERM)
    child.popen.wait(timeout=30)
    sup.stop(child)
    rec = json.loads((out / "recorder.json").read_text())
    assert rec["processes"] == 2
    mine = assert_matches_locust(rec)
    assert mine["GET /json"]["count"] > 0
