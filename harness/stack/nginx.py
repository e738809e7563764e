"""nginx in front of several server instances: write its configuration, start it.

Its access log is read by ``harness.stack.nginx_log``.

nginx runs as an ordinary child of the harness (foreground, unprivileged port, every
path inside one folder), so a run folder holds the exact configuration and both logs:

    <dir>/nginx.conf         written by ``write_nginx_config``
    <dir>/nginx-access.log   one tab-separated line per request (see ``ACCESS_LOG_FIELDS``)
    <dir>/nginx-error.log    nginx's own error log (failovers show up here)
    <dir>/nginx.log          whatever the process prints (the ``log_path`` of ``start_nginx``)
    <dir>/nginx-temp/        body and proxy buffers; empty unless a response is large

Every proxied response carries ``X-Upstream: <$upstream_addr>`` so the load side can
attribute requests to instances without reading the log. When nginx failed over,
the header lists every address tried (``"127.0.0.1:8001, 127.0.0.1:8002"``); the last
one answered. ``harness.stack.nginx_log.upstream_that_answered`` reads either form.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import resource
import shutil
from pathlib import Path

from harness.config import BALANCE
from harness.sections import Servers
from harness.stack.processes import (
    LOOPBACK,
    Child,
    Supervisor,
    require_executable,
    tail,
    wait_http_ready,
)
from runfolder.errors import ConfigError, ProcessError
from runfolder.storage import write_atomic

BALANCES = BALANCE
CONF_NAME = "nginx.conf"
ACCESS_LOG_NAME = "nginx-access.log"
ERROR_LOG_NAME = "nginx-error.log"
PID_NAME = "nginx.pid"
TEMP_DIR_NAME = "nginx-temp"
READY_PATH = "/__nginx_ready"
UPSTREAM_HEADER = "X-Upstream"

# Order of the tab-separated fields of each access log line (the nginx variables).
ACCESS_LOG_FIELDS = (
    "time_iso8601",
    "status",
    "request_method",
    "request_uri",
    "body_bytes_sent",
    "upstream_addr",
    "upstream_status",
    "request_time",
    "upstream_response_time",
    "upstream_connect_time",
)

# Where Debian puts nginx; /usr/sbin is often missing from a non-root user's PATH.
_SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
_LISTEN_RE = re.compile(r"^\s*listen\s+(\S+?)(?:\s[^;]*)?;", re.MULTILINE)


def write_nginx_config(
    directory: Path,
    listen_port: int,
    upstream_ports: list[int],
    *,
    balance: str = Servers.balance,
    keepalive: int = Servers.upstream_keepalive,
    host: str = LOOPBACK,
    listen_host: str | None = None,
) -> Path:
    """Write ``<directory>/nginx.conf``: nginx on ``listen_host:listen_port`` (default:
    ``host``) in front of the instances, which listen on ``host``.

    ``balance`` is ``"round_robin"`` (nginx's default) or ``"least_conn"``.
    ``keepalive`` is the number of idle connections each nginx worker keeps open to the
    instances (0: a new connection per request, as a client without keep-alive would).

    A request that fails to connect, errors or times out before a response header
    is retried on the next instance, so killing one instance costs no failed GET. nginx
    never resends a POST (or other non-idempotent request) it already passed on: one in
    flight on an instance that dies answers 502, which the load side counts as an error.
    """
    if balance not in BALANCES:
        raise ConfigError(f"balance must be one of {', '.join(BALANCES)}, not '{balance}'")
    if not upstream_ports:
        raise ConfigError("upstream_ports must name at least one instance port")
    for port in (listen_port, *upstream_ports):
        if not 0 < int(port) < 65536:
            raise ConfigError(f"port {port} is outside 1..65535")
    if listen_port in upstream_ports:
        raise ConfigError(f"nginx port {listen_port} is also an instance port")
    if keepalive < 0:
        raise ConfigError(f"keepalive must be >= 0, not {keepalive}")

    directory = Path(directory).resolve()
    temp_root = directory / TEMP_DIR_NAME
    for kind in _TEMP_KINDS:
        (temp_root / kind).mkdir(parents=True, exist_ok=True)
    text = _render(
        directory,
        temp_root,
        listen_port,
        upstream_ports,
        balance,
        keepalive,
        host,
        listen_host or host,
    )
    conf = directory / CONF_NAME
    write_atomic(conf, text)
    conf.chmod(0o644)  # readable like the rest of the run folder (mkstemp made it 0600)
    return conf


def _render(
    directory: Path,
    temp_root: Path,
    listen_port: int,
    upstream_ports: list[int],
    balance: str,
    keepalive: int,
    host: str,
    listen_host: str,
) -> str:
    addr = f"[{host}]" if ":" in host else host
    listen_addr = f"[{listen_host}]" if ":" in listen_host else listen_host
    nofile, connections = _file_limits()
    servers = "\n".join(
        f"        server {addr}:{port} max_fails=1 fail_timeout=10s;" for port in upstream_ports
    )
    balance_line = "        least_conn;\n" if balance == "least_conn" else ""
    if keepalive:
        # idle upstream connections close after 1 s, before gunicorn's 2 s keep-alive
        # timeout can close one under nginx (a race that would cost a retry)
        upstream_keepalive = (
            f"        keepalive {keepalive};\n"
            "        keepalive_timeout 1s;\n"
            "        keepalive_requests 10000;\n"
        )
        proxy_keepalive = (
            '            proxy_http_version 1.1;\n            proxy_set_header Connection "";\n'
        )
    else:
        upstream_keepalive = ""
        proxy_keepalive = ""
    fields = "\\t".join(f"${name}" for name in ACCESS_LOG_FIELDS)
    return f"""\
# Written by harness/nginx.py for one run: nginx in the foreground, unprivileged,
# every path inside {directory}
# balance={balance} keepalive={keepalive} instances={len(upstream_ports)}
daemon off;
master_process on;
worker_processes 1;
{_user_line()}worker_rlimit_nofile {nofile};
pid {directory / PID_NAME};
error_log {directory / ERROR_LOG_NAME} notice;

events {{
    worker_connections {connections};
}}

http {{
    client_body_temp_path {temp_root / "client_body"};
    proxy_temp_path {temp_root / "proxy"};
    fastcgi_temp_path {temp_root / "fastcgi"};
    uwsgi_temp_path {temp_root / "uwsgi"};
    scgi_temp_path {temp_root / "scgi"};

    log_format bench "{fields}";
    access_log {directory / ACCESS_LOG_NAME} bench;

    default_type application/octet-stream;
    server_tokens off;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 100000;
    client_max_body_size 10m;

    upstream bench_instances {{
{balance_line}{servers}
{upstream_keepalive}    }}

    server {{
        listen {listen_addr}:{listen_port} backlog=2048;
        server_name _;

        location = {READY_PATH} {{
            access_log off;
            default_type text/plain;
            return 200 "ready\\n";
        }}

        location / {{
            proxy_pass http://bench_instances;
{proxy_keepalive}            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Request-Start "t=${{msec}}";
            proxy_connect_timeout 2s;
            proxy_send_timeout 120s;
            proxy_read_timeout 120s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 0;
            proxy_redirect off;
            add_header {UPSTREAM_HEADER} $upstream_addr always;
        }}
    }}
}}
"""


def _user_line() -> str:
    """As root, keep the workers' user: nobody could not reach a private run folder."""
    if os.geteuid() != 0:
        return ""  # nginx ignores (and warns about) ``user`` when not root
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
    except KeyError:  # no passwd entry: leave nginx its default
        return ""
    return f"user {user} {group};\n"


def _file_limits() -> tuple[int, int]:
    """``worker_rlimit_nofile`` and ``worker_connections`` this process may have.

    Each proxied request holds two descriptors (client and instance side).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = hard if hard != resource.RLIM_INFINITY else 65536
    nofile = max(soft if soft != resource.RLIM_INFINITY else 65536, min(ceiling, 16384))
    return nofile, max(256, min(4096, nofile // 2 - 16))


def find_nginx() -> str:
    """The nginx executable: on PATH, else in the sbin folders, else a ProcessError."""
    found = shutil.which("nginx") or shutil.which("nginx", path=os.pathsep.join(_SBIN_DIRS))
    return found or require_executable("nginx")  # raises, naming the Debian package


def listen_url(conf_path: Path) -> str:
    """``http://host:port`` of the first ``listen`` directive of a written config."""
    match = _LISTEN_RE.search(Path(conf_path).read_text())
    if not match:
        raise ConfigError(f"{conf_path} has no listen directive")
    addr = match.group(1)
    # a wildcard listen is reached on this machine through loopback
    for wildcard, local in (("0.0.0.0:", "127.0.0.1:"), ("[::]:", "[::1]:")):
        if addr.startswith(wildcard):
            addr = local + addr[len(wildcard) :]
    return f"http://{addr}"


def nginx_argv(conf_path: Path) -> list[str]:
    """The command line: ``-e`` keeps even start-up errors out of /var/log/nginx."""
    conf_path = Path(conf_path).resolve()
    directory = conf_path.parent
    return [
        find_nginx(),
        "-e",
        str(directory / ERROR_LOG_NAME),
        "-c",
        str(conf_path),
        "-p",
        f"{directory}{os.sep}",
    ]


def start_nginx(
    supervisor: Supervisor,
    conf_path: Path,
    log_path: Path,
    cpus: tuple[int, ...] | None = None,
    *,
    timeout: float = 15.0,
) -> Child:
    """Start nginx with ``conf_path`` under ``supervisor`` and wait until it answers.

    Readiness is nginx's own ``/__nginx_ready`` location, so it does not depend on the
    instances (check those before). The returned child has a ``url`` attribute: the
    address to send load to. Leaving the supervisor stops nginx and its worker.
    """
    conf_path = Path(conf_path).resolve()
    url = listen_url(conf_path)
    child = supervisor.start("nginx", nginx_argv(conf_path), log_path=log_path, cpus=cpus)
    child.url = url  # type: ignore[attr-defined]
    try:
        wait_http_ready(child, url + READY_PATH, timeout=timeout)
    except ProcessError as exc:
        supervisor.stop(child)
        error_log = conf_path.parent / ERROR_LOG_NAME
        reason = _last_error(error_log) or exc.message
        raise ProcessError(
            f"nginx did not start on {url}: {reason} (config: {conf_path}, log: {error_log})"
        ) from exc
    return child


_ERROR_LINE = re.compile(r"^\S+ \S+ \[(emerg|alert|crit|error)\] \d+#\d+: (?:\*\d+ )?(.*)$")


def _last_error(error_log: Path) -> str:
    """The last two distinct serious messages of nginx's error log, without timestamps.

    Two, because nginx's last word is sometimes only a summary ("still could not bind()")
    of the line before it ("bind() to 127.0.0.1:8080 failed (98: Address already in use)").
    """
    messages: list[str] = []
    for line in reversed(tail(error_log, 30).splitlines()):
        match = _ERROR_LINE.match(line.strip())
        if match and match.group(2) not in messages:
            messages.append(match.group(2))
            if len(messages) == 2:
                break
    return "; ".join(reversed(messages))
