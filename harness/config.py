"""Run configuration: a ``RunConfig`` of frozen sections (``harness.sections``), validated
once at the edge.

Every error names the option it is about and says what a good value looks like.
Nothing downstream reads the environment or globals: the CLI builds a ``RunConfig``
and hands it down.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from harness.sections import (
    Database,
    Distribution,
    Load,
    Pinning,
    Profiling,
    Servers,
    Subject,
    available_cpus,
)
from harness.userenv import check_python, mask_env
from runfolder.errors import ConfigError
from targets.catalog import DESCRIPTIONS as TARGETS

__all__ = ["DATABASES", "SERVERS", "SHAPES", "TARGETS", "RunConfig"]

SERVERS: dict[str, str] = {
    "werkzeug": "Werkzeug development server (flask run), threaded",
    "gunicorn-sync": "gunicorn, sync workers (one request at a time, no keep-alive)",
    "gunicorn-gthread": "gunicorn, gthread workers (threads, keep-alive)",
    "gunicorn-gevent": "gunicorn, gevent workers (greenlets, monkey-patched I/O)",
    "waitress": "waitress, a pure-Python threaded WSGI server",
    "granian": "granian, a Rust HTTP server, WSGI interface (--threads blocking threads)",
    "uwsgi": "uWSGI (the pyuwsgi wheel), HTTP socket, --threads threads per worker",
}

DATABASES: dict[str, str] = {
    "sqlite": "SQLite, embedded: one file per cell, shared by its workers and instances",
    "postgres": "PostgreSQL: a server started per run from the Debian package (or --database-url)",
}

SHAPES: dict[str, str] = {
    "constant": "all users spawned at --spawn-rate, then held",
    "step": "users added in steps over the run (latency against throughput)",
    "spike": "a short burst of extra users in the middle of the run",
}

BALANCE = ("round_robin", "least_conn")

GENERATED_SCENARIO = "routes"


def validate_host(url: str, allow_remote: bool) -> None:
    """``--host`` must be an http(s) URL; a non-loopback host needs --allow-remote."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--host: '{url}' is not a URL; use e.g. http://127.0.0.1:5000")
    host = parts.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not allow_remote:
        raise ConfigError(
            f"--host: {host} is not a loopback address; load another machine only if it is "
            "yours to load, and say so with --allow-remote"
        )


_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str | float | int, option: str = "--duration") -> float:
    """Seconds from ``30``, ``30s``, ``2m``, ``1h30m`` or ``1m30s``."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        value = text.strip().lower()
        match = _DURATION_RE.match(value)
        if not value or not match or not any(match.groups()):
            raise ConfigError(f"{option}: '{text}' is not a duration; use e.g. 30s, 2m or 1h30m")
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds < 0:
        raise ConfigError(f"{option} must not be negative")
    return seconds


def parse_cpus(text: str, option: str) -> tuple[int, ...]:
    """A CPU list like ``0``, ``1,3`` or ``2-5``."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                cpus.update(range(lo, hi + 1))
            elif part:
                cpus.add(int(part))
    except ValueError:
        raise ConfigError(
            f"{option}: '{text}' is not a CPU list; use e.g. 0 or 1,2 or 2-3"
        ) from None
    available = available_cpus()
    unknown = sorted(cpus - set(available))
    if not cpus or unknown:
        raise ConfigError(
            f"{option}: CPUs {unknown or text} are not available here; "
            f"this machine offers {','.join(map(str, available))}"
        )
    return tuple(sorted(cpus))


SECTIONS: dict[str, type] = {
    "subject": Subject,
    "load": Load,
    "servers": Servers,
    "database": Database,
    "profiling": Profiling,
    "distribution": Distribution,
}
# flat option names (as the CLI and meta.json's "config" spell them) that differ from the field
ALIASES: dict[str, tuple[str, str]] = {
    "servers": ("servers", "kinds"),
    "profile": ("profiling", "enabled"),
    "profile_rate": ("profiling", "rate"),
    "profile_min": ("profiling", "min_per_endpoint"),
}
TOP_LEVEL = ("pinning", "repeat", "out", "name")


def _flat_index() -> dict[str, tuple[str, str]]:
    index = dict(ALIASES)
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            index.setdefault(f.name, (section, f.name))
    index.update({"kinds": ("servers", "kinds"), "enabled": ("profiling", "enabled")})
    return index


FLAT = _flat_index()


@dataclass(frozen=True)
class RunConfig:
    """One run's configuration, in sections; every default is the sections' own."""

    subject: Subject = field(default_factory=Subject)
    load: Load = field(default_factory=Load)
    servers: Servers = field(default_factory=Servers)
    database: Database = field(default_factory=Database)
    pinning: Pinning = field(default_factory=Pinning.default)
    profiling: Profiling = field(default_factory=Profiling)
    distribution: Distribution = field(default_factory=Distribution)
    repeat: int = 1
    out: Path = Path("runs")
    name: str = "run"

    def __post_init__(self) -> None:
        validate(self)

    @classmethod
    def build(cls, **flat: object) -> RunConfig:
        """A config from flat option names (``users=8, servers=("werkzeug",)``)."""
        return cls().with_(**flat) if flat else cls()

    def with_(self, **flat: object) -> RunConfig:
        """A copy with flat-named options changed, validated again."""
        top: dict[str, object] = {}
        per_section: dict[str, dict[str, object]] = {}
        for key, value in flat.items():
            if key in TOP_LEVEL:
                top[key] = value
            elif key in FLAT:
                section, name = FLAT[key]
                per_section.setdefault(section, {})[name] = value
            else:
                raise TypeError(f"RunConfig has no option {key!r}")
        changes = {s: replace(getattr(self, s), **v) for s, v in per_section.items()}
        return replace(self, **changes, **top)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, object]:
        """Flat, as meta.json's ``config`` has always been written."""
        data: dict[str, object] = {}
        for section in SECTIONS:
            data.update(asdict(getattr(self, section)))
        data["servers"] = list(self.servers.kinds)
        data.pop("kinds")
        data["profile"] = data.pop("enabled")
        data["profile_rate"] = data.pop("rate")
        data["profile_min"] = data.pop("min_per_endpoint")
        data["rate"] = self.load.rate
        data.update(repeat=self.repeat, out=str(self.out), name=self.name)
        for key in ("app_dir", "routes_file", "app_python", "env_file"):
            data[key] = str(data[key]) if data[key] is not None else None
        data["env"] = mask_env(dict(self.subject.env))  # secret-looking values never stored
        if self.database.database_url:  # a password never reaches meta.json
            data["database_url"] = re.sub(
                r"://([^:/@]*):[^@]*@", r"://\1:***@", self.database.database_url
            )
        data["pinning"] = self.pinning.to_json()
        master = self.distribution.master_bind
        data["master_bind"] = f"{master[0]}:{master[1]}"
        for key in ("targets", "scenarios"):
            data[key] = list(data[key])  # type: ignore[call-overload]
        return data


def _choices_error(option: str, value: str, choices: object) -> ConfigError:
    names = ", ".join(sorted(choices))  # type: ignore[call-overload]
    return ConfigError(f"{option}: unknown value '{value}'; choose from {names}")


def validate_subject(sub: Subject) -> None:
    """What is measured: targets, or an app (with its environment), or a host."""
    if sub.app or sub.host:
        if sub.targets:
            raise ConfigError("--target cannot be combined with --app or --host")
        if sub.app and not re.fullmatch(r"[\w.]+(:[\w.]+(\(.*\))?)?", sub.app):
            raise ConfigError(
                f"--app: '{sub.app}' is not MODULE:OBJECT, e.g. myapp:app or myapp:create_app()"
            )
        if sub.app_dir is not None and not sub.app_dir.is_dir():
            raise ConfigError(f"--app-dir: {sub.app_dir} is not a folder")
        if sub.host and (sub.app_python or sub.env or sub.env_file):
            raise ConfigError("--app-python, --env and --env-file go with --app, not --host")
        if sub.app_python is not None:
            check_python(sub.app_python)
        debug = [k for k, _ in sub.env if k.startswith("FLASK_DEBUG")]
        if debug:
            raise ConfigError(
                f"--env: {debug[0]} would switch the measured server into debug mode; "
                "leave it out (serve --debug is for clicking through)"
            )
        if sub.host:
            validate_host(sub.host, sub.allow_remote)
    else:
        if not sub.targets:
            raise ConfigError("--target: at least one target is needed")
        for t in sub.targets:
            if t not in TARGETS:
                raise _choices_error("--target", t, TARGETS)
        if sub.app_dir is not None or sub.routes_file is not None or sub.exclude:
            raise ConfigError("--app-dir, --routes and --exclude go with --app")
        if sub.app_python is not None or sub.env or sub.env_file is not None:
            raise ConfigError(
                "--app-python, --env and --env-file go with --app "
                "(the reference targets are configured by the harness)"
            )


def validate(cfg: RunConfig) -> None:
    from loadtests.catalog import SCENARIOS

    sub, load, srv = cfg.subject, cfg.load, cfg.servers

    validate_subject(sub)
    if not load.scenarios:
        raise ConfigError("--scenario: at least one scenario is needed")
    for s in load.scenarios:
        if s == GENERATED_SCENARIO:
            if not sub.app:
                raise ConfigError("--scenario routes is generated from --app's URL map: give --app")
        elif s.endswith(".py"):
            if not Path(s).is_file():
                raise ConfigError(f"--scenario: locustfile {s} does not exist")
        elif s not in SCENARIOS:
            raise _choices_error("--scenario", s, [*SCENARIOS, GENERATED_SCENARIO])
    if sub.routes_file is not None and not sub.routes_file.is_file():
        raise ConfigError(f"--routes: {sub.routes_file} does not exist")
    for s in srv.kinds:
        if s not in SERVERS:
            raise _choices_error("--server", s, SERVERS)
    if load.shape not in SHAPES:
        raise _choices_error("--shape", load.shape, SHAPES)
    positive = {
        "--workers": srv.workers,
        "--threads": srv.threads,
        "--users": load.users,
        "--repeat": cfg.repeat,
        "--processes": load.processes,
        "--instances": srv.instances,
    }
    for option, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{option} must be > 0 (got {value})")
    if load.spawn_rate is not None and load.spawn_rate <= 0:
        raise ConfigError(f"--spawn-rate must be > 0 (got {load.spawn_rate})")
    if load.rate is not None:
        if load.rate <= 0:
            raise ConfigError(f"--rate must be > 0 requests per second (got {load.rate})")
        closed = [s for s in load.scenarios if s in SCENARIOS and not SCENARIOS[s].open_model_ok]
        if closed:
            raise ConfigError(
                f"--rate: scenario {closed[0]} keeps per-user state (a login session) and "
                "cannot run on the open model; use an endpoint scenario such as json or db"
            )
    if load.duration <= 0:
        raise ConfigError("--duration must be > 0, e.g. 30s")
    if load.warmup < 0:
        raise ConfigError("--warmup must not be negative")
    if cfg.profiling.min_per_endpoint is not None and cfg.profiling.min_per_endpoint < 0:
        raise ConfigError("profiling.min_per_endpoint must not be negative")
    if not 0 < cfg.profiling.rate <= 1:
        raise ConfigError(f"--profile-rate must be in (0, 1] (got {cfg.profiling.rate})")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", cfg.name):
        raise ConfigError(
            f"--name: '{cfg.name}' must be 1-64 letters, digits, '.', '_' or '-' "
            "(it becomes part of a folder name)"
        )
    for workers, instances in srv.sweep:
        if workers <= 0 or instances <= 0:
            raise ConfigError("--workers and --instances values must be > 0")
    if srv.balance not in BALANCE:
        raise _choices_error("--balance", srv.balance, BALANCE)
    if srv.upstream_keepalive < 0:
        raise ConfigError("--upstream-keepalive must not be negative (0 turns it off)")
    if cfg.distribution.expect_workers < 0:
        raise ConfigError("--expect-workers must not be negative")
    if load.think_ms < 0:
        raise ConfigError("--think-ms must not be negative")
    validate_database(cfg.database, sub)


def validate_database(db: Database, sub: Subject) -> None:
    if db.database not in DATABASES:
        raise _choices_error("--database", db.database, DATABASES)
    if db.database_url is not None and db.database != "postgres":
        raise ConfigError(
            "--database-url names a PostgreSQL server: use it with --database postgres"
        )
    if db.db_pool is not None and db.db_pool <= 0:
        raise ConfigError(f"--db-pool must be > 0 connections per worker (got {db.db_pool})")
    if (sub.app or sub.host) and (db.database != "sqlite" or db.db_pool is not None):
        raise ConfigError(
            "--database and --db-pool set up the reference targets' database; "
            "with --app or --host your app keeps its own"
        )


def parse_host_port(text: str, option: str, default_port: int | None = None) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` or ``[::1]:PORT``."""
    host, port = text, default_port or Distribution.master_bind[1]
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], option, text)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, option, text)
    if not host:
        raise ConfigError(f"{option}: '{text}' has no host; use HOST:PORT, e.g. 127.0.0.1:5557")
    return host, port


def _port(text: str, option: str, whole: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise ConfigError(
            f"{option}: '{whole}' has no valid port; use HOST:PORT, e.g. 10.0.0.5:5557"
        )
    return port
