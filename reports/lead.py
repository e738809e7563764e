"""The lead of a run: which endpoints are slow, which part of the request, which functions.

One wording for the top of the report, the console after ``run`` and the suite's
headline (``harness/segments/suite/headline.py``): the slowest endpoints by p99, the part
of the request that dominates each one's tail (the Server-Timing ``breakdown`` of
``summary.json``), and, when the run was profiled, their top functions by self time per
request (``profiles/hotspots.json``). It reads summary rows and the hotspots file only,
so it serves a run folder as well as a run that has just finished.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from runfolder.breakdown import PART_NAMES, tail_sentence
from runfolder.figures import ALL

TOP_FUNCTIONS = 3
SLOWEST = 3  # endpoints named per cell


def top_functions(spots: list[dict[str, Any]], n: int = TOP_FUNCTIONS) -> list[dict[str, Any]]:
    """The ``n`` named functions with the most self time per request, as ``{function, self_ms}``."""
    named = [h for h in spots if isinstance(h, dict) and str(h.get("function") or "").strip()]
    top = sorted(named, key=lambda h: -float(h.get("self_ms") or 0.0))[:n]
    return [{"function": h["function"], "self_ms": round(float(h["self_ms"]), 2)} for h in top]


def p99_text(p99: float, thin: bool) -> str:
    return f"{p99:.1f} ms" + (" (thin)" if thin else "")


def slowest_clause(endpoint: str, p99: float, thin: bool, noun: str = "endpoint") -> str:
    """``the slowest step is POST /login (p99 820.0 ms (thin))``."""
    return f"the slowest {noun} is {endpoint} (p99 {p99_text(p99, thin)})"


def functions_clause(hotspots: list[dict[str, Any]]) -> str:
    """``, where _hashlib.scrypt takes 95.1 ms per request`` (empty when nothing was profiled)."""
    if not hotspots:
        return ""
    spot = hotspots[0]
    return f", where {spot['function']} takes {spot['self_ms']:.1f} ms per request"


def functions_text(hotspots: list[dict[str, Any]]) -> str:
    """``scrypt 95.1 ms, render 0.4 ms`` (self ms per request)."""
    return ", ".join(f"{h['function']} {h['self_ms']:.1f} ms" for h in hotspots)


def subject_name(config: dict[str, Any] | None, target: str) -> str:
    """What a cell measured, for people: a user's app by its import string (``wiki.server:app``,
    not the module's last word), a reference target by its name."""
    app = (config or {}).get("app")
    return str(app) if app else target


def read_hotspot_cells(run_dir: Path) -> dict[str, Any]:
    """``profiles/hotspots.json``'s cells, or nothing when the run was not profiled."""
    try:
        cells = json.loads((run_dir / "profiles" / "hotspots.json").read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return cells if isinstance(cells, dict) else {}


@dataclass
class EndpointLead:
    endpoint: str
    p50: float | None
    p99: float
    thin: bool  # the p99 rests on few samples
    rps: float | None
    error_pct: float
    breakdown: dict[str, Any] | None
    hotspots: list[dict[str, Any]] = field(default_factory=list)

    @property
    def part(self) -> str:
        """The part of the request that dominates the tail, as a sentence ('' without one)."""
        if not self.breakdown or not self.breakdown.get("dominant"):
            return ""
        return tail_sentence("", self.breakdown).removeprefix(": ")

    @property
    def part_short(self) -> str:
        """``queueing: p99 13.57 ms, 69% of the client's p99``, for a column that says
        "dominates the tail" ('' without Server-Timing)."""
        part = (self.breakdown or {}).get("dominant")
        if not part:
            return ""
        assert self.breakdown is not None
        p99 = self.breakdown["parts"][part]["p99"]
        share = self.breakdown["tail_share"][part]
        return f"{PART_NAMES[part]}: p99 {p99:.2f} ms, {share:.0%} of the client's p99"


@dataclass
class CellLead:
    cell_id: str
    name: str  # what was measured, as people say it: "wiki.server:app · gunicorn-sync"
    rps: float | None
    users: int | None
    endpoints: list[EndpointLead]  # the slowest first, at most SLOWEST

    def sentence(self) -> str:
        load = f"{self.rps or 0:.0f} req/s" + (f" with {self.users} users" if self.users else "")
        if not self.endpoints:
            return f"{self.name}: {load}; no endpoint recorded a successful request"
        slow = self.endpoints[0]
        text = f"{self.name}: {load}; " + slowest_clause(slow.endpoint, slow.p99, slow.thin)
        text += functions_clause(slow.hotspots)
        return text + (f"; {slow.part}" if slow.part else "")


def _endpoint_lead(name: str, entries: list[dict[str, Any]], spots: list[Any]) -> EndpointLead:
    lats = [e["latency_ms"] for e in entries if e.get("latency_ms")]
    rps = [float(e["rps"]) for e in entries if e.get("rps") is not None]
    p50 = [float(lat["p50"]) for lat in lats if lat.get("p50") is not None]
    return EndpointLead(
        endpoint=name,
        p50=median(p50) if p50 else None,
        p99=median(float(lat["p99"]) for lat in lats),
        thin=any("p99" in (e.get("thin") or []) for e in entries),
        rps=median(rps) if rps else None,
        error_pct=median(float(e.get("error_pct") or 0.0) for e in entries),
        breakdown=next((e["breakdown"] for e in entries if e.get("breakdown")), None),
        hotspots=top_functions(spots),
    )


def cell_leads(
    rows: list[dict[str, Any]],
    hotspot_cells: dict[str, Any],
    name_of: Callable[[dict[str, Any]], str],
    slowest: int = SLOWEST,
) -> list[CellLead]:
    """Per cell (repetitions: the median of their p99s), its slowest endpoints and why."""
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_cell.setdefault(str(row["cell_id"]), []).append(row)
    leads = []
    for cell_id, cell_rows in by_cell.items():
        profiled = (hotspot_cells.get(cell_id) or {}).get("endpoints") or {}
        names = {n for r in cell_rows for n in r.get("endpoints") or {} if n != ALL}
        endpoints = []
        for name in names:
            entries = [r["endpoints"][name] for r in cell_rows if name in r["endpoints"]]
            if any((e.get("latency_ms") or {}).get("p99") is not None for e in entries):
                spots = (profiled.get(name) or {}).get("hotspots") or []
                endpoints.append(_endpoint_lead(name, entries, spots))
        endpoints.sort(key=lambda e: -e.p99)
        alls = [r["endpoints"][ALL] for r in cell_rows if ALL in (r.get("endpoints") or {})]
        rps = [float(a["rps"]) for a in alls if a.get("rps") is not None]
        first = cell_rows[0]
        leads.append(
            CellLead(
                cell_id=cell_id,
                name=name_of(first),
                rps=median(rps) if rps else None,
                users=None if first.get("rate") else first.get("users"),
                endpoints=endpoints[:slowest],
            )
        )
    return leads
