"""The default suite's headline: the ``browse`` journey, and where its time goes.

A person logging in, listing and opening items, creating one through a CSRF form:
closed-model users on one target, a sample of requests profiled. The studies answer
"what does a technique buy"; the headline answers "which part of a real journey is
slow, and in which function" (the login's password hash, most often).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.cells import Cell
from harness.run.engine import Progress, run_cell
from harness.segments.sides import RunFolder
from reports.lead import (
    SLOWEST,
    functions_clause,
    read_hotspot_cells,
    slowest_clause,
    top_functions,
)

TARGET, SERVER = "sync", "gunicorn-gthread"
USERS = 16


def run_headline(run: RunFolder, thorough: bool, progress: Progress) -> dict[str, Any]:
    """Measure the journey into ``run`` (one row); the ``headline`` summary section."""
    cfg = run.cfg.with_(
        targets=(TARGET,),
        servers=(SERVER,),
        scenarios=("browse",),
        users=USERS,
        warmup=2.0,
        duration=20.0 if thorough else 8.0,
        rate=None,
        profile=True,
        profile_rate=0.05,
        profile_min=5,
    )
    cell = Cell(
        TARGET,
        SERVER,
        "browse",
        cfg.servers.workers,
        cfg.servers.threads,
        profiled=True,
        scenario_arg="browse",
    )
    progress.message(
        f"headline: the browse journey on {TARGET} · {SERVER}, {USERS} users, "
        f"{cfg.load.duration:.0f} s"
    )
    row = run_cell(cfg, cell, 0, run.writer, run.databases, progress, db_label="headline")
    endpoints = []
    for name, entry in row["endpoints"].items():
        lat = entry.get("latency_ms") or {}
        if name == "ALL" or not lat:
            continue
        endpoints.append(
            {
                "endpoint": name,
                "requests": entry["requests"],
                "rps": entry["rps"],
                "error_pct": entry["error_pct"],
                "p50": lat.get("p50"),
                "p99": lat.get("p99"),
                "thin": entry.get("thin", []),
                "hotspots": [],
            }
        )
    endpoints.sort(key=lambda e: -(e["p99"] or 0.0))
    total = row["endpoints"].get("ALL") or {}
    return {
        "cell_id": cell.cell_id,
        "target": TARGET,
        "server": SERVER,
        "users": USERS,
        "rps": total.get("rps"),
        "server_cpu_pct": row.get("server_cpu_mean_pct"),
        "endpoints": endpoints,
        "warnings": row.get("warnings", []),
    }


def add_hotspots(run_dir: Path, headline: dict[str, Any]) -> None:
    """The slowest endpoints' top functions (self ms per request) from profiles/hotspots.json,
    and a sentence saying where the journey's time goes (the wording of ``reports.lead``)."""
    cells = read_hotspot_cells(run_dir)
    profiled = (cells.get(headline["cell_id"]) or {}).get("endpoints") or {}
    for ep in headline["endpoints"][:SLOWEST]:
        ep["hotspots"] = top_functions((profiled.get(ep["endpoint"]) or {}).get("hotspots") or [])
    headline["sentence"] = sentence(headline)


def sentence(headline: dict[str, Any]) -> str:
    eps = headline["endpoints"]
    if not eps:
        return "the browse journey recorded no successful requests"
    slow = eps[0]
    return (
        f"browse on {headline['target']} · {headline['server']}: "
        f"{headline['rps'] or 0:.0f} req/s with {headline['users']} users; "
        + slowest_clause(slow["endpoint"], slow["p99"], "p99" in slow["thin"], noun="step")
        + functions_clause(slow["hotspots"])
    )
