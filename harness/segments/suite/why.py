"""Each study's "why" line: CPU per request and where the request waited, both sides.

Self time from a profiler is wall time: under gthread a thread that waits for the GIL
accrues it, so the same ``Cursor.execute`` read 4.57 ms a request under gthread and
0.27 ms under Werkzeug. The line therefore leads with CPU:

- the side's server processes' CPU per request over its paired segments (``live.py``:
  CPU seconds over requests completed), always there on Linux;
- at the common rate, the request thread's own CPU time (the Server-Timing ``cpu`` part,
  when the middleware sends it) and where the request waited: queueing (client send to
  app start) and the upstream or database parts;
- only when no ``cpu`` part was sent, the profile's top functions by self time, with a
  note that it is wall time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WHY_TOP = 3
WAIT_FLOOR_MS = 0.005  # a wait shown only when a side's p50 reaches it
WAIT_PARTS = (("queue", "queueing"), ("up", "upstream"), ("db", "database"))


def add_why(run_dir: Path, section: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Each study of ``section`` gets ``why`` (a sentence) from ``rows`` (the common-rate
    steps' summary rows) and ``profiles/hotspots.json`` when present."""
    try:
        cells = json.loads((run_dir / "profiles" / "hotspots.json").read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        cells = {}
    by_cell = {r.get("cell_id"): r for r in rows if r.get("common_rate")}
    for st in section.get("studies", []):
        st["why"] = why_line(st, by_cell, cells)


def _endpoint(row: dict[str, Any] | None) -> dict[str, Any]:
    """The row's busiest endpoint (a study asks one workload endpoint)."""
    eps = [e for name, e in ((row or {}).get("endpoints") or {}).items() if name != "ALL"]
    return max(eps, key=lambda e: e.get("requests", 0)) if eps else {}


def _parts(row: dict[str, Any] | None) -> dict[str, Any]:
    return (_endpoint(row).get("breakdown") or {}).get("parts") or {}


def _pair(a: float | None, b: float | None) -> str:
    def one(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}"

    return f"{one(a)} -> {one(b)} ms"


def why_line(st: dict[str, Any], rows: dict[Any, dict[str, Any]], cells: dict[str, Any]) -> str:
    base, var = st["baseline"], st["variant"]
    said: list[str] = []
    if base.get("cpu_ms") is not None or var.get("cpu_ms") is not None:
        cpu = st.get("cpu_ratio") or {}
        ratio = (
            f" ({cpu['ratio']:.2f}x, {cpu['ci'][0]:.2f}-{cpu['ci'][1]:.2f})"
            if cpu.get("ratio") is not None and cpu.get("ci")
            else ""
        )
        said.append(
            "CPU per request (server processes, at saturation) "
            + _pair(base.get("cpu_ms"), var.get("cpu_ms"))
            + ratio
        )
    parts = (_parts(rows.get(base["cell_id"])), _parts(rows.get(var["cell_id"])))
    common = st.get("common") or {}
    at = f" at {common['rate']:.0f} req/s" if common.get("rate") else ""
    # the request thread's CPU (Server-Timing ``cpu``): the endpoint's ``cpu_ms``
    thread_cpu = [
        (_endpoint(rows.get(side["cell_id"])).get("cpu_ms") or {}).get("mean")
        for side in (base, var)
    ]
    if any(v is not None for v in thread_cpu):
        said.append(f"the request thread's own CPU{at} (mean) " + _pair(*thread_cpu))
    waits = []
    for part, label in WAIT_PARTS:
        p50s = [(p.get(part) or {}).get("p50") for p in parts]
        if any(v is not None and v >= WAIT_FLOOR_MS for v in p50s):  # 0.00 -> 0.00 says nothing
            waits.append(f"{label} p50 " + _pair(*p50s))
    if waits:
        said.append(f"waited{at}: " + ", ".join(waits))
    if all(v is None for v in thread_cpu):
        spots = [p for p in (hotspots(var, cells), hotspots(base, cells)) if p]
        if spots:
            said.append(
                "no CPU part in Server-Timing, so top functions by self time (wall time, "
                "which counts waiting for the GIL): " + "; ".join(spots)
            )
    return "why: " + "; ".join(said) if said else "why: nothing measured per request"


def hotspots(side: dict[str, Any], cells: dict[str, Any]) -> str:
    """The side's top functions by self time per request from its profiled samples."""
    endpoints = (cells.get(side["cell_id"]) or {}).get("endpoints") or {}
    if not endpoints:
        return ""
    ep = max(endpoints.values(), key=lambda e: e.get("profiled_requests", 0))
    named = [h for h in ep.get("hotspots") or [] if str(h.get("function") or "").strip()]
    top = sorted(named, key=lambda h: -float(h.get("self_ms", 0)))[:WHY_TOP]
    funcs = ", ".join(f"{h['function']} {h['self_ms']:.2f} ms" for h in top) or "no hotspot"
    return (
        f"{side['target']} on {side['server']} {funcs} ({ep.get('profiled_requests', 0)} profiled)"
    )
