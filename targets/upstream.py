"""The upstream service: answers ``GET /delay?ms=D`` with ``{"delay_ms": D}`` after D ms.

One asyncio process (aiohttp) holds thousands of waiting connections on one core, so
the slow dependency is never the bottleneck of a measurement. Usage::

    python -m targets.upstream --host 127.0.0.1 --port 8081

It binds loopback only unless ``--allow-remote`` says otherwise: it is a test fixture,
not a service. ``serve_in_thread`` runs it inside the current process (tests,
micro-benchmarks) without a child process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import resource
import threading
from collections.abc import Iterator, Sequence

from aiohttp import web

MAX_DELAY_MS = 10_000
LOOPBACK_NAMES = {"localhost"}

log = logging.getLogger("targets.upstream")


async def delay(request: web.Request) -> web.Response:
    raw = request.query.get("ms", "0")
    try:
        ms = int(raw, 10)
    except ValueError:
        ms = -1
    if not 0 <= ms <= MAX_DELAY_MS:
        return web.json_response(
            {"error": "bad_request", "message": f"ms must be an integer in 0..{MAX_DELAY_MS}"},
            status=400,
        )
    if ms:
        await asyncio.sleep(ms / 1000)
    return web.json_response({"delay_ms": ms})


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_upstream_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/delay", delay)
    app.router.add_get("/healthz", healthz)
    return app


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _raise_fd_limit() -> None:
    """Thousands of waiting connections need thousands of file descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@contextlib.contextmanager
def serve_in_thread(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the service on a background thread's event loop; yields its base URL."""
    if not is_loopback(host):
        raise ValueError(f"refusing to bind {host}: the upstream service is loopback-only")
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_upstream_app(), access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, host, port, backlog=2048)
    loop.run_until_complete(site.start())
    bound_port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, name="upstream", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m targets.upstream",
        description="Slow upstream service for the reference targets' /upstream endpoint.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument("--port", type=int, default=8081, help="TCP port (default 8081)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (it then answers anyone who can reach it)",
    )
    args = parser.parse_args(argv)
    if not is_loopback(args.host) and not args.allow_remote:
        parser.error(f"--host {args.host} is not a loopback address; add --allow-remote to bind it")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    _raise_fd_limit()
    log.info("listening on http://%s:%d", args.host, args.port)
    web.run_app(
        create_upstream_app(),
        host=args.host,
        port=args.port,
        backlog=4096,
        access_log=None,
        print=None,
        shutdown_timeout=1.0,
    )


if __name__ == "__main__":
    main()
