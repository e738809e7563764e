"""Workload pieces shared by the sync and async views: same work, same bodies."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template

ADDITIONAL_FORTUNE = "Additional fortune added at request time."


def cpu_work(n: int) -> int:
    """Pure-Python arithmetic loop: CPU-bound, holds the GIL, easy to spot in a profile."""
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) % 1_000_000_007
    return acc


def render_fortunes(rows: list[tuple[int, str]]) -> str:
    rows = [*rows, (0, ADDITIONAL_FORTUNE)]
    rows.sort(key=lambda row: row[1])
    return render_template("fortunes.html", fortunes=rows)


def plaintext_response() -> Response:
    return Response("Hello, World!", mimetype="text/plain")


def upstream_body(calls: int, delay_ms: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"calls": calls, "delay_ms": delay_ms, "results": results}
