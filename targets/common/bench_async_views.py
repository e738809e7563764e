"""The same workload endpoints as ``async def`` views (variant ``async``).

Flask runs each async view to completion in its own event loop while the worker thread
waits, so ``async def`` alone buys no concurrency between requests (docs/measurement
section 6). It pays off where one request awaits several I/O calls at once:
``/upstream`` gathers its K calls, so it takes about one delay instead of K. Every other
endpoint is async too, with the same sync work inside (SQLAlchemy with a sync driver,
the CPU loop), so each scenario measures the cost of the async machinery alone.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from targets.common import params
from targets.common.db import WORLD_ROWS
from targets.common.state import bench_state
from targets.common.upstream_client import UpstreamError
from targets.common.workload import cpu_work, plaintext_response, render_fortunes, upstream_body

bp = Blueprint("bench", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")  # readiness probes stay sync: nothing to await


@bp.get("/json", endpoint="json")
async def json_view() -> Response:
    return jsonify(message="Hello, World!")


@bp.get("/plaintext")
async def plaintext() -> Response:
    return plaintext_response()


@bp.get("/db")
async def db() -> Response:
    state = bench_state()
    return jsonify(state.db.world(state.randint(1, WORLD_ROWS)))


@bp.get("/queries")
async def queries() -> Response:
    state = bench_state()
    n = params.clamp_int(request.args.get("queries"), **params.QUERIES)
    return jsonify(state.db.worlds([state.randint(1, WORLD_ROWS) for _ in range(n)]))


@bp.get("/updates")
async def updates() -> Response:
    state = bench_state()
    n = params.clamp_int(request.args.get("queries"), **params.QUERIES)
    rows = state.db.worlds([state.randint(1, WORLD_ROWS) for _ in range(n)])
    for row in rows:
        row["randomNumber"] = state.randint(1, WORLD_ROWS)
    state.db.update_worlds([(row["id"], row["randomNumber"]) for row in rows])
    return jsonify(rows)


@bp.get("/fortunes")
async def fortunes() -> str:
    return render_fortunes(bench_state().db.fortunes())


@bp.get("/cpu")
async def cpu() -> Response:
    n = params.clamp_int(request.args.get("n"), **params.CPU_N)
    return jsonify(n=n, result=cpu_work(n))


@bp.get("/upstream")
async def upstream() -> Response | tuple[Response, int]:
    calls, delay_ms = params.upstream_params(
        request.args.get("calls"), request.args.get("delay_ms")
    )
    try:
        results = await bench_state().upstream.delays_concurrently(calls, delay_ms)
    except UpstreamError as exc:
        current_app.logger.warning("GET /upstream: %s", exc)
        return jsonify(error="bad_gateway", message="the upstream service did not answer"), 502
    return jsonify(upstream_body(calls, delay_ms, results))
