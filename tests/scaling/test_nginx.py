"""harness/nginx.py: the generated configuration, and real nginx in front of real instances.

Unit tests build configs and parse logs without processes. The ``e2e`` tests start two
tiny HTTP instances (tests/scaling/tiny_upstream.py) and nginx on 127.0.0.1, send a
bounded number of requests from a few threads, and read the X-Upstream header and
the access log.
"""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from harness.stack import nginx, nginx_log
from harness.stack.processes import Child, Supervisor, free_port, wait_http_ready
from runfolder.errors import ConfigError, ProcessError

TINY_UPSTREAM = Path(__file__).with_name("tiny_upstream.py")


# --- configuration, no process ------------------------------------------------------------


def test_config_has_everything_to_run_unprivileged(tmp_path: Path) -> None:
    conf = nginx.write_nginx_config(tmp_path, 18080, [18081, 18082])
    text = conf.read_text()
    assert conf == tmp_path.resolve() / "nginx.conf"
    for directive in ("daemon off;", "master_process on;", "worker_processes 1;"):
        assert directive in text
    assert f"pid {tmp_path.resolve() / 'nginx.pid'};" in text
    assert f"error_log {tmp_path.resolve() / 'nginx-error.log'}" in text
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        path = tmp_path.resolve() / "nginx-temp" / kind
        assert f"{kind}_temp_path {path};" in text
        assert path.is_dir()
    # every file path nginx will write lies inside the folder
    path_directives = re.findall(
        r"^\s*(pid|error_log|access_log|\w+_temp_path) (\S+?)[;\s]", text, re.MULTILINE
    )
    paths = [p for _, p in path_directives if p != "off"]
    assert len(paths) == 8  # pid, error_log, access_log, five temp paths
    outside = [p for p in paths if not p.startswith(str(tmp_path.resolve()))]
    assert not outside, outside


def test_config_listens_on_loopback_and_proxies_to_every_instance(tmp_path: Path) -> None:
    text = nginx.write_nginx_config(tmp_path, 18080, [18081, 18082, 18083]).read_text()
    assert re.findall(r"^\s*listen (\S+)", text, re.MULTILINE) == ["127.0.0.1:18080"]
    servers = re.findall(r"^\s*server (127\.0\.0\.1:\d+)", text, re.MULTILINE)
    assert servers == ["127.0.0.1:18081", "127.0.0.1:18082", "127.0.0.1:18083"]
    assert "proxy_next_upstream error timeout;" in text
    assert "add_header X-Upstream $upstream_addr always;" in text
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert f"proxy_set_header {header} " in text
    assert "location = /__nginx_ready" in text
    assert nginx.listen_url(tmp_path / "nginx.conf") == "http://127.0.0.1:18080"


def test_config_log_format_has_upstream_fields(tmp_path: Path) -> None:
    text = nginx.write_nginx_config(tmp_path, 18080, [18081]).read_text()
    fmt = re.search(r'log_format bench "([^"]+)";', text)
    assert fmt is not None
    assert fmt.group(1).split("\\t") == [f"${f}" for f in nginx.ACCESS_LOG_FIELDS]
    assert "$upstream_addr\\t$upstream_status\\t$request_time\\t$upstream_response_time" in text
    assert f"access_log {tmp_path.resolve() / 'nginx-access.log'} bench;" in text


def test_balance_and_keepalive_options(tmp_path: Path) -> None:
    rr = nginx.write_nginx_config(tmp_path / "rr", 18080, [18081, 18082]).read_text()
    assert "least_conn" not in rr
    assert "keepalive 32;" in rr
    assert "proxy_http_version 1.1;" in rr
    assert 'proxy_set_header Connection "";' in rr

    lc = nginx.write_nginx_config(
        tmp_path / "lc", 18080, [18081, 18082], balance="least_conn", keepalive=8
    ).read_text()
    assert "least_conn;" in lc
    assert "keepalive 8;" in lc

    off = nginx.write_nginx_config(tmp_path / "off", 18080, [18081], keepalive=0).read_text()
    assert not re.search(r"^\s*keepalive \d+;", off, re.MULTILINE)
    assert "proxy_http_version" not in off
    assert "Connection" not in off


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"balance": "random"}, "balance must be one of round_robin, least_conn"),
        ({"upstream_ports": []}, "at least one instance"),
        ({"keepalive": -1}, "keepalive must be >= 0"),
        ({"listen_port": 70000}, "outside 1..65535"),
        ({"listen_port": 18081}, "also an instance port"),
    ],
)
def test_bad_arguments_are_config_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"listen_port": 18080, "upstream_ports": [18081, 18082], **kwargs}
    with pytest.raises(ConfigError, match=message):
        nginx.write_nginx_config(tmp_path, **args)
    assert not (tmp_path / "nginx.conf").exists()


def test_find_nginx_looks_in_sbin_and_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "sbin" / "nginx"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(nginx, "_SBIN_DIRS", (str(fake.parent),))
    assert nginx.find_nginx() == str(fake)
    monkeypatch.setattr(nginx, "_SBIN_DIRS", (str(tmp_path / "none"),))
    with pytest.raises(ProcessError, match="apt-get install nginx"):
        nginx.find_nginx()


def _line(status: str, addr: str, upstream_status: str, rt: str = "0.002", urt: str = "0.001"):
    fields = ["2026-11-27T03:00:00+00:00", status, "GET", "/json", "12"]
    return "\t".join([*fields, addr, upstream_status, "0.002", urt, "0.000"]) + "\n"


def test_requests_per_upstream_counts_the_instance_that_answered(tmp_path: Path) -> None:
    log = tmp_path / "nginx-access.log"
    log.write_text(
        _line("200", "127.0.0.1:8001", "200")
        + _line("200", "127.0.0.1:8002", "200")
        + _line("200", "127.0.0.1:8001", "200")
        # failover: 8002 refused, 8001 answered
        + _line("200", "127.0.0.1:8002, 127.0.0.1:8001", "502, 200", urt="0.000, 0.003")
        # no instance left
        + _line("502", "-", "-", urt="-")
        + "garbage line\n"
        + _line("200", "127.0.0.1:8002", "200").rstrip("\n")  # being written: ignored
    )
    assert nginx_log.requests_per_upstream(log) == {
        "127.0.0.1:8001": 3,
        "127.0.0.1:8002": 1,
        "-": 1,
    }
    records = nginx_log.read_access_log(log)
    assert records[3].upstream_addrs == ("127.0.0.1:8002", "127.0.0.1:8001")
    assert records[3].upstream_statuses == ("502", "200")
    assert records[3].upstream_response_time == pytest.approx(0.003)
    assert records[4].upstream == "-"
    assert records[4].upstream_response_time is None
    assert nginx_log.requests_per_upstream(tmp_path / "missing.log") == {}


def test_upstream_that_answered() -> None:
    assert nginx_log.upstream_that_answered("127.0.0.1:1") == "127.0.0.1:1"
    assert nginx_log.upstream_that_answered("127.0.0.1:1, 127.0.0.1:2") == "127.0.0.1:2"
    assert nginx_log.upstream_that_answered("127.0.0.1:1 : 127.0.0.1:3") == "127.0.0.1:3"
    assert nginx_log.upstream_that_answered("") == "-"


# --- real nginx ---------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize(("balance", "keepalive"), [("round_robin", 32), ("least_conn", 0)])
def test_nginx_accepts_the_generated_config(tmp_path: Path, balance: str, keepalive: int) -> None:
    conf = nginx.write_nginx_config(
        tmp_path, free_port(), [free_port(), free_port()], balance=balance, keepalive=keepalive
    )
    argv = nginx.nginx_argv(conf)
    result = subprocess.run([argv[0], "-t", *argv[1:]], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def _start_instance(sup: Supervisor, log_dir: Path, name: str, delay_ms: float = 0) -> Child:
    port = free_port()
    argv = [sys.executable, str(TINY_UPSTREAM), "--port", str(port), "--name", name]
    child = sup.start(
        f"instance {name}",
        [*argv, "--delay-ms", str(delay_ms)],
        log_path=log_dir / f"server-{name}.log",
    )
    child.port = port  # type: ignore[attr-defined]
    wait_http_ready(child, f"http://127.0.0.1:{port}/healthz", timeout=20)
    return child


@dataclass
class Answer:
    status: int | None  # None: no HTTP answer at all
    upstream: str
    body: str
    started: float
    error: str = ""


def _get(url: str) -> Answer:
    host_port = url.removeprefix("http://").split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/work")
        resp = conn.getresponse()
        body = resp.read().decode()
        return Answer(resp.status, resp.getheader("X-Upstream", ""), body.strip(), started)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, "", "", started, repr(exc))
    finally:
        conn.close()


def _send(url: str, n: int, threads: int) -> list[Answer]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda _: _get(url), range(n)))


def _nginx_pids(child: Child) -> set[int]:
    """The nginx master and its workers."""
    master = psutil.Process(child.pid)
    return {master.pid, *(p.pid for p in master.children(recursive=True))}


def _assert_gone(pids: set[int], conf_dir: Path) -> None:
    alive = [p for p in pids if psutil.pid_exists(p) and _not_zombie(p)]
    assert not alive, f"nginx processes left: {alive}"
    assert not (conf_dir / nginx.PID_NAME).exists()


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.e2e
def test_round_robin_spreads_requests_over_both_instances(tmp_path: Path) -> None:
    with Supervisor(grace=3) as sup:
        a = _start_instance(sup, tmp_path, "a")
        b = _start_instance(sup, tmp_path, "b")
        ports = [a.port, b.port]  # type: ignore[attr-defined]
        conf = nginx.write_nginx_config(tmp_path, free_port(), ports)
        proxy = nginx.start_nginx(sup, conf, tmp_path / "nginx.log")
        pids = _nginx_pids(proxy)
        assert len(pids) == 2  # master + one worker

        answers = _send(proxy.url, 200, threads=8)  # type: ignore[attr-defined]

        assert [x for x in answers if x.status != 200] == []
        by_header = Counter(x.upstream for x in answers)
        addr_a, addr_b = (f"127.0.0.1:{p}" for p in ports)
        assert set(by_header) == {addr_a, addr_b}
        # round robin in one worker alternates; retries could shift a few
        assert min(by_header.values()) >= 90, by_header
        # the header names the instance whose body we got
        names = {addr_a: "a", addr_b: "b"}
        assert all(names[x.upstream] == x.body for x in answers)
    _assert_gone(pids, tmp_path)
    # nginx logs a request just after answering it: the log is complete once nginx stopped
    assert nginx_log.requests_per_upstream(tmp_path / nginx.ACCESS_LOG_NAME) == by_header
    assert not proxy.alive()


@pytest.mark.e2e
@pytest.mark.parametrize("balance", ["round_robin", "least_conn"])
def test_least_conn_sends_more_to_the_faster_instance(tmp_path: Path, balance: str) -> None:
    with Supervisor(grace=3) as sup:
        slow = _start_instance(sup, tmp_path, "slow", delay_ms=100)
        fast = _start_instance(sup, tmp_path, "fast", delay_ms=0)
        ports = [slow.port, fast.port]  # type: ignore[attr-defined]
        conf = nginx.write_nginx_config(tmp_path, free_port(), ports, balance=balance)
        proxy = nginx.start_nginx(sup, conf, tmp_path / "nginx.log")
        answers = _send(proxy.url, 80, threads=8)  # type: ignore[attr-defined]
        assert [x for x in answers if x.status != 200] == []
        per_body = Counter(x.body for x in answers)
        if balance == "round_robin":  # blind to load: alternates
            assert abs(per_body["fast"] - per_body["slow"]) <= 4, per_body
        else:  # keeps the slow instance's queue short
            assert per_body["fast"] >= 2 * per_body["slow"], per_body
    # nginx logs a request just after answering it: the log is complete once nginx stopped
    counts = nginx_log.requests_per_upstream(tmp_path / nginx.ACCESS_LOG_NAME)
    assert counts[f"127.0.0.1:{fast.port}"] == per_body["fast"]  # type: ignore[attr-defined]


@pytest.mark.e2e
def test_killing_an_instance_mid_run_fails_over_to_the_other(tmp_path: Path) -> None:
    total, kill_after = 200, 100
    with Supervisor(grace=3) as sup:
        a = _start_instance(sup, tmp_path, "a", delay_ms=5)
        b = _start_instance(sup, tmp_path, "b", delay_ms=5)
        addr_a, addr_b = (f"127.0.0.1:{c.port}" for c in (a, b))  # type: ignore[attr-defined]
        conf = nginx.write_nginx_config(tmp_path, free_port(), [a.port, b.port])  # type: ignore[attr-defined]
        proxy = nginx.start_nginx(sup, conf, tmp_path / "nginx.log")
        pids = _nginx_pids(proxy)

        done = threading.Semaphore(0)
        with ThreadPoolExecutor(4) as pool:
            futures: list[Future[Answer]] = []
            for _ in range(total):
                fut = pool.submit(_get, proxy.url)  # type: ignore[attr-defined]
                fut.add_done_callback(lambda _: done.release())
                futures.append(fut)
            for _ in range(kill_after):  # bounded: each wait ends within 10 s
                assert done.acquire(timeout=10)
            b.signal_group(signal.SIGKILL)  # a crash, not a clean stop
            b.popen.wait(timeout=5)
            killed_at = time.monotonic()
            answers = [f.result(timeout=30) for f in futures]

        errors = [x for x in answers if x.status != 200]
        assert not b.alive() and a.alive() and proxy.alive()
        assert errors == [], f"{len(errors)} errors: {errors[:3]}"
        after = [x for x in answers if x.started > killed_at]
        assert len(after) > 20  # the kill really happened mid-run
        assert all(nginx_log.upstream_that_answered(x.upstream) == addr_a for x in after)
        assert all(x.body == "a" for x in after)

        # nginx noticed and said so in its own log
        assert addr_b in (tmp_path / nginx.ERROR_LOG_NAME).read_text()
    _assert_gone(pids, tmp_path)
    counts = nginx_log.requests_per_upstream(tmp_path / nginx.ACCESS_LOG_NAME)
    assert sum(counts.values()) == total
    assert counts[addr_a] > total // 2 and 0 < counts[addr_b] < total // 2, counts


@pytest.mark.e2e
def test_start_failure_names_the_error_log_and_leaves_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        conf = nginx.write_nginx_config(tmp_path, port, [free_port()])
        with Supervisor(grace=3) as sup:
            with pytest.raises(ProcessError) as info:
                nginx.start_nginx(sup, conf, tmp_path / "nginx.log", timeout=10)
            assert sup.children == []
    message = info.value.message
    assert "Address already in use" in message
    assert str(tmp_path.resolve() / nginx.ERROR_LOG_NAME) in message


@pytest.mark.e2e
def test_config_error_is_reported_with_nginx_message(tmp_path: Path) -> None:
    conf = nginx.write_nginx_config(tmp_path, free_port(), [free_port()])
    conf.write_text(conf.read_text().replace("server_tokens off;", "no_such_directive 1;"))
    with Supervisor(grace=3) as sup, pytest.raises(ProcessError) as info:
        nginx.start_nginx(sup, conf, tmp_path / "nginx.log", timeout=10)
    message = info.value.message
    assert message.startswith("nginx did not start on http://127.0.0.1:")
    assert 'unknown directive "no_such_directive"' in message
    assert f"config: {conf}" in message


def test_user_directive_only_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # as root, workers would drop to "nobody", who cannot reach a private run folder
    monkeypatch.setattr(nginx.os, "geteuid", lambda: 0)
    assert re.search(
        r"^user \S+ \S+;$",
        nginx.write_nginx_config(tmp_path / "root", 18080, [18081]).read_text(),
        re.MULTILINE,
    )
    monkeypatch.setattr(nginx.os, "geteuid", lambda: 1000)
    text = nginx.write_nginx_config(tmp_path / "user", 18080, [18081]).read_text()
    assert not re.search(r"^user ", text, re.MULTILINE)


def test_config_stamps_x_request_start_for_queue_time(tmp_path: Path) -> None:
    text = nginx.write_nginx_config(tmp_path, 18080, [18081, 18082]).read_text()
    assert 'proxy_set_header X-Request-Start "t=${msec}";' in text
