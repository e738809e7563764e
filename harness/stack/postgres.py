"""A real PostgreSQL server for the targets: started per run, or an existing one by URL.

Why a server of its own per run: SQLite is embedded, and nobody scales a Flask app out on
one SQLite file behind nginx. A throwaway server from the Debian package (``initdb`` into a
temporary folder, listening on 127.0.0.1 only, on a free port, its socket inside the data
folder) measures what production runs, and leaves nothing behind: the server is a child of
a ``Supervisor`` (Ctrl-C, a crash and a failed verify stop it like any server) and its data
folder is removed when the supervisor ends. PostgreSQL refuses to run as root, so as root it
runs as the package's ``postgres`` account.

Every cell gets a fresh database on the one server (``CREATE DATABASE``), as every cell gets
a fresh SQLite file: ``/updates`` and the REST writes of one cell never reach the next. The
targets create and seed it themselves (``targets/common/db.py``, under an advisory lock).
The server is tuned as a throwaway: no fsync, no synchronous commit (recorded in meta.json).
"""

from __future__ import annotations

import glob
import ipaddress
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.stack.processes import (
    LOOPBACK,
    Child,
    Supervisor,
    account,
    free_port,
    port_in_use,
    tail,
)
from runfolder.errors import ConfigError, ProcessError

INSTALL_HINT = "run 'bash scripts/setup.sh --test' or 'apt-get install postgresql'"
BIN_ENV = "BENCH_PG_BIN"  # a folder holding initdb and postgres (another build; tests)
SEARCH = "/usr/lib/postgresql/*/bin"  # where Debian's packages put them, one per version
DB_USER = "bench"
RUN_AS = "postgres"  # the account the Debian package creates; used when we are root
READY_TIMEOUT_S = 30.0
# a throwaway server: durability buys nothing here and adds disk noise to every write
SETTINGS: dict[str, str] = {
    "listen_addresses": LOOPBACK,
    "max_connections": "300",  # instances x workers x pool, with room to spare
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "128MB",
}
KINDS = ("sqlite", "postgres")


def find_binary(name: str) -> Path:
    """``initdb`` / ``postgres`` of the newest PostgreSQL installed, or a one-line error."""
    override = os.environ.get(BIN_ENV)
    folders = [Path(override)] if override else _versioned(Path(p) for p in glob.glob(SEARCH))
    for folder in folders:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = None if override else shutil.which(name)
    if found:
        return Path(found)
    where = override or SEARCH
    raise ProcessError(f"PostgreSQL's '{name}' was not found (looked in {where}): {INSTALL_HINT}")


def _versioned(folders: Any) -> list[Path]:
    """Newest version first: /usr/lib/postgresql/16/bin before .../15/bin."""

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", p.parent.name)) or (0,)

    return sorted(folders, key=version, reverse=True)


def installed() -> bool:
    try:
        find_binary("initdb")
    except ProcessError:
        return False
    return True


def _run_as() -> str | None:
    """The account the server runs as: ourselves, or ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        raise ProcessError(
            f"PostgreSQL refuses to run as root and there is no '{RUN_AS}' account: "
            f"{INSTALL_HINT} (the package creates it)"
        ) from None
    return RUN_AS


def sql_url(host: str, port: int, database: str, user: str = DB_USER) -> str:
    """The SQLAlchemy URL of a database, with the psycopg 3 driver."""
    where = f"[{host}]" if ":" in host else host
    return f"postgresql+psycopg://{user}@{where}:{port}/{database}"


def database_name(label: str) -> str:
    """A safe PostgreSQL identifier from a cell label (63 bytes at most; a long label keeps
    a hash of the whole, so two cells never share a database)."""
    name = "c_" + (re.sub(r"[^a-z0-9_]+", "_", label.lower()).strip("_") or "bench")
    if len(name) > 63:
        name = f"{name[:54]}_{zlib.crc32(label.encode()):08x}"
    return name


@dataclass
class Postgres:
    """A PostgreSQL server the targets use: ours (``child`` set) or an existing one."""

    host: str
    port: int
    url: str  # the SQLAlchemy URL of the administrative database
    child: Child | None = None
    version: str = ""
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def managed(self) -> bool:
        return self.child is not None

    def pids(self) -> list[int]:
        """The postmaster (its backends are its children): for CPU sampling."""
        return [self.child.pid] if self.child is not None and self.child.alive() else []

    def fresh_database(self, label: str) -> str:
        """A new, empty database for one cell on our server; an existing server's as given."""
        if not self.managed:
            return self.url
        name = database_name(label)
        with _connect(self.url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return sql_url(self.host, self.port, name)

    def describe(self) -> dict[str, Any]:
        """What meta.json records of the server."""
        return {
            "kind": "postgres",
            "managed": self.managed,
            "host": self.host,
            "port": self.port,
            "version": self.version,
            "settings": self.settings,
        }


def _connect(url: str, timeout: float = 5.0) -> Any:
    """An autocommit psycopg connection (CREATE DATABASE cannot run in a transaction)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg.connect(
        host=u.host,
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        dbname=u.database or "postgres",
        connect_timeout=max(1, int(timeout)),
        autocommit=True,
    )


def _inspect(pg: Postgres) -> None:
    with _connect(pg.url) as conn:
        pg.version = str(conn.execute("SHOW server_version").fetchone()[0])
        names = [*SETTINGS, "max_connections", "shared_buffers", "work_mem"]
        rows = conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) "
            "ORDER BY name",
            (sorted(set(names)),),
        ).fetchall()
    pg.settings = {str(name): str(value) for name, value in rows}


def start_postgres(
    sup: Supervisor,
    log_path: Path,
    *,
    cpus: tuple[int, ...] | None = None,
    port: int | None = None,
) -> Postgres:
    """initdb into a temporary folder and start the server under ``sup``.

    The data folder is removed when ``sup`` stops (after the server), also when this
    function fails half-way.
    """
    initdb = find_binary("initdb")
    postgres = initdb.with_name("postgres")
    if not postgres.is_file():
        postgres = find_binary("postgres")
    if port is not None and port_in_use(port):
        raise ProcessError(
            f"port {port} on {LOOPBACK} is already in use: PostgreSQL cannot listen there; "
            "stop whatever listens on it or leave the port to the harness"
        )
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="flask-bench-pg-"))
    sup.defer(lambda: shutil.rmtree(root, ignore_errors=True))
    data = root / "data"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _initdb(initdb, data, user, log_path)
    port = port or free_port()
    argv = [str(postgres), "-D", str(data), "-p", str(port)]
    settings = {**SETTINGS, "unix_socket_directories": str(data)}
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]
    child = sup.start(
        "postgres",
        argv,
        log_path=log_path,
        cwd=root,
        cpus=cpus,
        user=user,
        stop_signal=signal.SIGINT,  # fast shutdown: clients are cut off, not waited for
    )
    pg = Postgres(LOOPBACK, port, sql_url(LOOPBACK, port, "postgres"), child)
    _wait_ready(pg, child)
    return pg


def _initdb(initdb: Path, data: Path, user: str | None, log_path: Path) -> None:
    argv = [
        str(initdb),
        "-D",
        str(data),
        "-U",
        DB_USER,
        "--auth=trust",  # a throwaway server reachable from this machine only (loopback)
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    ]
    uid, gid, groups = account(user)
    with log_path.open("ab") as log:
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(data.parent),
                timeout=120,
                check=False,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ProcessError(f"initdb failed ({exc}); log: {log_path}") from exc
    if done.returncode != 0:
        last = tail(log_path, 1).strip()
        raise ProcessError(f"initdb failed with exit code {done.returncode}: {last} ({log_path})")


def _wait_ready(pg: Postgres, child: Child) -> None:
    """Until the server answers a query (it accepts TCP before it can serve one)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if not child.alive():
            line = _last_error_line(child.log_path)
            raise ProcessError(f"{child.describe_exit()} before it was ready: {line}")
        try:
            _inspect(pg)
            return
        except Exception as exc:  # psycopg.OperationalError while starting up
            last = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        time.sleep(0.1)
    raise ProcessError(f"postgres was not ready after {READY_TIMEOUT_S:.0f}s ({last})")


def _last_error_line(log_path: Path | None) -> str:
    """The line that says why the server stopped (FATAL / could not ...), not the last one."""
    lines = tail(log_path, 40).splitlines()
    for line in reversed(lines):
        if "FATAL" in line or "could not" in line or "ERROR" in line:
            return line.strip()
    return lines[-1].strip() if lines else ""


def connect_existing(url: str, allow_remote: bool) -> Postgres:
    """An existing server named by ``--database-url``, checked: it must answer as PostgreSQL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    host = parsed.host if parsed is not None else None
    if parsed is None or not parsed.drivername.startswith("postgresql") or not host:
        raise ConfigError(
            f"--database-url: '{url}' is not a PostgreSQL URL; "
            "use e.g. postgresql://user@127.0.0.1:5432/bench"
        )
    if not _is_loopback(host) and not allow_remote:
        raise ConfigError(
            f"--database-url: {host} is not a loopback address; use a database on "
            "another machine only if it is yours to load, and say so with --allow-remote"
        )
    parsed = parsed.set(drivername="postgresql+psycopg")
    full = parsed.render_as_string(hide_password=False)
    pg = Postgres(host, parsed.port or 5432, full)
    try:
        _inspect(pg)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(
            f"--database-url: no PostgreSQL answered at {host}:{pg.port} ({reason}); "
            "start one there or leave out --database-url to let the harness start its own"
        ) from None
    return pg


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
