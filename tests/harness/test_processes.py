from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.stack.processes import (
    Supervisor,
    free_port,
    port_in_use,
    require_executable,
    wait_http_ready,
)
from runfolder.errors import ProcessError

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
# a parent that forks a child into its own group and ignores SIGTERM
STUBBORN = [
    sys.executable,
    "-c",
    "import os, signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "os.fork()\n"
    "time.sleep(60)\n",
]


def test_free_port_and_in_use() -> None:
    port = free_port()
    assert not port_in_use(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert port_in_use(port)


def test_supervisor_stops_whole_group_even_when_sigterm_is_ignored(tmp_path: Path) -> None:
    with Supervisor(grace=0.5) as sup:
        child = sup.start("stubborn", STUBBORN, log_path=tmp_path / "log")
        for _ in range(100):  # until the fork happened (bounded: 5 s)
            if psutil.Process(child.pid).children():
                break
            time.sleep(0.05)
        forked = psutil.Process(child.pid).children()
        assert forked
        pgid = child.pid
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    assert not psutil.pid_exists(forked[0].pid)


def test_supervisor_stops_children_on_exception(tmp_path: Path) -> None:
    pids = []
    with pytest.raises(RuntimeError), Supervisor() as sup:
        pids.append(sup.start("a", SLEEPER).pid)
        pids.append(sup.start("b", SLEEPER).pid)
        raise RuntimeError("boom")
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_pinning_is_applied() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    with Supervisor() as sup:
        child = sup.start("pinned", SLEEPER, cpus=[cpus[-1]])
        assert os.sched_getaffinity(child.pid) == {cpus[-1]}


def test_wait_ready_quotes_log_when_child_dies(tmp_path: Path) -> None:
    crash = [sys.executable, "-c", "import sys; print('cannot bind: boom'); sys.exit(3)"]
    with Supervisor() as sup:
        child = sup.start("crasher", crash, log_path=tmp_path / "crash.log")
        with pytest.raises(ProcessError, match=r"exit code 3.*cannot bind: boom.*crash\.log"):
            wait_http_ready(child, f"http://127.0.0.1:{free_port()}/healthz", timeout=10)


def test_wait_ready_times_out(tmp_path: Path) -> None:
    with Supervisor() as sup:
        child = sup.start("sleeper", SLEEPER, log_path=tmp_path / "s.log")
        with pytest.raises(ProcessError, match="was not ready"):
            wait_http_ready(child, f"http://127.0.0.1:{free_port()}/", timeout=0.5)


def test_missing_executable_names_debian_package() -> None:
    with pytest.raises(ProcessError, match="apt-get install nginx"):
        require_executable_missing("nginx")


def require_executable_missing(name: str) -> None:
    old = os.environ["PATH"]
    os.environ["PATH"] = "/nonexistent"
    try:
        require_executable(name)
    finally:
        os.environ["PATH"] = old


def test_start_missing_executable(tmp_path: Path) -> None:
    with Supervisor() as sup, pytest.raises(ProcessError, match="was not found"):
        sup.start("ghost", ["definitely-not-a-command-xyz"])


def test_check_alive_reports_crash(tmp_path: Path) -> None:
    with Supervisor() as sup:
        child = sup.start("short", [sys.executable, "-c", "pass"], log_path=tmp_path / "l")
        child.popen.wait(timeout=10)
        with pytest.raises(ProcessError, match="short stopped with exit code 0"):
            sup.check_alive()
