"""Child processes: start each in its own process group, wait for readiness, always reap.

Every server, upstream service, redis-server, nginx and Locust process the harness
starts goes through ``Supervisor.start``. Leaving the supervisor (normal end, an
exception, Ctrl-C) stops every child: SIGTERM to its whole process group, then
SIGKILL after a grace period, then ``wait()`` so nothing is left as a zombie.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runfolder.errors import ProcessError

LOOPBACK = "127.0.0.1"

# Debian packages that provide the executables the harness may start.
DEBIAN_PACKAGES = {
    "nginx": "nginx",
    "redis-server": "redis-server",
    "wrk": "wrk",
    "chromium": "chromium",
    "initdb": "postgresql",
    "postgres": "postgresql",
}

_live: set[Child] = set()


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def require_executable(name: str) -> str:
    """The path of ``name``, or a ProcessError naming the Debian package that provides it."""
    path = shutil.which(name)
    if path:
        return path
    package = DEBIAN_PACKAGES.get(name, name)
    raise ProcessError(
        f"'{name}' was not found on PATH: install the Debian package '{package}' "
        f"(apt-get install {package}) or run 'bash scripts/setup.sh --test'"
    )


def tail(path: Path | None, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    if path is None or not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 16384))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


@dataclass(eq=False)
class Child:
    """One started process and the process group it leads."""

    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log_path: Path | None
    cpus: tuple[int, ...] | None = None
    _log_handle: object | None = field(default=None, repr=False)
    # the signal that asks it to stop: PostgreSQL's fast shutdown is SIGINT (its SIGTERM
    # waits for every client to leave)
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def describe_exit(self) -> str:
        code = self.popen.poll()
        if code is None:
            return f"{self.name} is running"
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        where = f"; log: {self.log_path}" if self.log_path else ""
        return f"{self.name} stopped with {how}{where}"

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def stop(self, grace: float = 5.0) -> int | None:
        """``stop_signal`` to the group, SIGKILL after ``grace`` seconds, reap; the exit code."""
        if self.alive():
            self.signal_group(self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        # the leader may be gone while workers of its group linger: always sweep the group
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        _reap_group_stragglers(self.pid)
        if self._log_handle is not None:
            with contextlib.suppress(Exception):
                self._log_handle.close()  # type: ignore[attr-defined]
            self._log_handle = None
        _live.discard(self)
        return self.popen.returncode


def _reap_group_stragglers(pgid: int) -> None:
    """Wait until no process of group ``pgid`` remains (they were SIGKILLed)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)


def start_child(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    cpus: Iterable[int] | None = None,
    drop_env: Iterable[str] = (),
    user: str | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Child:
    """Start ``argv`` in a new session (its own process group), output into ``log_path``.

    ``cpus`` pins the process, and so everything it forks, to those CPUs. ``drop_env``
    names inherited variables the child must not see (``env`` is applied after). ``user``
    runs it as that account (a server that refuses to run as root: PostgreSQL); the log
    file is opened here, so the account needs no access to the run folder.
    """
    exe = argv[0]
    if os.sep not in exe and shutil.which(exe) is None:
        require_executable(exe)
    cpu_set = tuple(sorted(set(cpus))) if cpus else None
    ids = account(user)
    handle = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = log_path.open("ab")
    full_env = {k: v for k, v in os.environ.items() if k not in set(drop_env)}
    if env:
        full_env.update(env)

    def _in_child() -> None:  # runs between fork and exec
        _die_with_parent()
        if cpu_set:
            os.sched_setaffinity(0, cpu_set)

    try:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=handle if handle else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if handle else subprocess.DEVNULL,
            env=full_env,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
            # after the switch of user (which clears the parent-death signal), before exec
            preexec_fn=_in_child,
            user=ids[0],
            group=ids[1],
            extra_groups=ids[2],
        )
    except OSError as exc:
        if handle:
            handle.close()
        raise ProcessError(f"could not start {name} ({argv[0]}): {exc.strerror or exc}") from exc
    child = Child(name, list(argv), popen, log_path, cpu_set, handle, stop_signal)
    _live.add(child)
    return child


def account(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    """Popen's user, group and extra groups that run a child as ``user`` (all None when it
    is who we are already)."""
    if user is None:
        return None, None, None
    import pwd

    entry = pwd.getpwnam(user)
    if entry.pw_uid == os.geteuid():
        return None, None, None
    return entry.pw_uid, entry.pw_gid, []


_PR_SET_PDEATHSIG = 1


def _libc() -> object | None:
    """libc, loaded in the parent: a child switched to another account may not be allowed
    to read the modules an import between fork and exec would need."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this child if the harness dies (even by SIGKILL).

    Children run in their own sessions, so a crash of the harness would otherwise
    leave servers and Locust running with nobody to stop them.
    """
    # not Linux: no prctl, and the supervisor's own cleanup still runs
    with contextlib.suppress(AttributeError):
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)  # type: ignore[attr-defined]


def wait_http_ready(
    child: Child | None,
    url: str,
    *,
    timeout: float = 30.0,
    expect_status: int | None = 200,
) -> None:
    """Poll ``url`` until it answers ``expect_status`` (None: any HTTP answer).

    Fails fast, quoting the log, when ``child`` dies first.
    """
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise ProcessError(
                _failure_message(child, f"{child.describe_exit()} before it was ready")
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if expect_status is None or resp.status == expect_status:
                    return
                last_error = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            if expect_status is None:
                return
            last_error = f"HTTP {exc.code}"
        except (OSError, urllib.error.URLError) as exc:
            last_error = str(getattr(exc, "reason", exc))
        time.sleep(0.05)
    name = child.name if child else url
    raise ProcessError(
        _failure_message(
            child, f"{name} was not ready at {url} after {timeout:.0f}s ({last_error})"
        )
    )


def wait_tcp_ready(child: Child | None, host: str, port: int, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise ProcessError(
                _failure_message(child, f"{child.describe_exit()} before it was ready")
            )
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.05)
    raise ProcessError(
        _failure_message(child, f"nothing listened on {host}:{port} after {timeout:.0f}s")
    )


def _failure_message(child: Child | None, what: str) -> str:
    if child is None:
        return what
    last = tail(child.log_path, 1).strip()
    hint = f"; last log line: {last}" if last else ""
    where = f" (full log: {child.log_path})" if child.log_path else ""
    return f"{what}{hint}{where}"


class Supervisor:
    """Owns a set of children; leaving the ``with`` block stops them all, newest first."""

    def __init__(self, grace: float = 5.0) -> None:
        self.grace = grace
        self.children: list[Child] = []
        self.deferred: list[Callable[[], None]] = []

    def defer(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` once every child has stopped (a server's data folder goes then)."""
        self.deferred.append(cleanup)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self, name: str, argv: Sequence[str], **kwargs: object) -> Child:
        child = start_child(name, argv, **kwargs)  # type: ignore[arg-type]
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        """Raise ProcessError when a child died unexpectedly."""
        for child in self.children:
            if not child.alive():
                raise ProcessError(_failure_message(child, child.describe_exit()))

    def stop(self, child: Child) -> None:
        child.stop(self.grace)
        with contextlib.suppress(ValueError):
            self.children.remove(child)

    def stop_all(self) -> None:
        # stopping must finish even if Ctrl-C arrives again meanwhile
        previous = signal.getsignal(signal.SIGINT)
        in_main = _is_main_thread()
        if in_main:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while self.children:
                self.children.pop().stop(self.grace)
            while self.deferred:
                self.deferred.pop()()
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def live_children() -> list[Child]:
    """Children started by this process and not yet stopped (tests assert this is empty)."""
    return [c for c in _live if c.alive()]


@atexit.register
def _stop_leftovers() -> None:
    for child in list(_live):
        child.stop(grace=2.0)
