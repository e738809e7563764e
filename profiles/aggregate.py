"""Raw per-request profiles of a run -> per-endpoint hotspots, HTML, speedscope, folded stacks.

``aggregate_run(run_dir)`` reads every raw session file under
``run_dir/cells/<cell_id>/r*/profiles/`` (repetitions of a cell are merged) and
writes ``run_dir/profiles/``: ``hotspots.json``, one pyinstrument HTML page per
cell and endpoint (plus one for its slow tail), ``speedscope.json`` holding one
sampled profile per cell and endpoint, and ``folded/<name>.folded``. Stacks are
loaded and trimmed by ``profiles.stacks``; the files are made by ``profiles.export``.

Hotspots are sorted by total (inclusive) time per request: it is the figure that
puts the endpoint's own workload (a database call, a template render) at the top,
where self time would scatter it across the driver's or Jinja's leaf frames.
Flask's own dispatch frames (``full_dispatch_request``, ``dispatch_request``), which
contain the view and so the whole endpoint time by construction, are left out of the
table (they stay in the HTML, speedscope and folded outputs).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from profiles.export import (
    folded_lines,
    html_page,
    safe_name,
    speedscope_document,
    speedscope_profile,
    write_text,
)
from profiles.session import raw_session_files
from profiles.stacks import EndpointProfiles, ProfiledRequest, Tables, load_cell, merged_stacks

HOTSPOTS_FORMAT_VERSION = 1
MAX_HOTSPOTS = 200
MIN_HOTSPOT_PCT = 0.1


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def hotspot_table(requests: list[ProfiledRequest], tables: Tables) -> list[dict[str, Any]]:
    """Per function: self and total ms per request, % of the endpoint's time, share."""
    n = len(requests)
    if n == 0:
        return []
    merged = merged_stacks(requests)
    grand = sum(merged.values())
    if grand <= 0:
        return []
    self_t: dict[int, float] = defaultdict(float)
    total_t: dict[int, float] = defaultdict(float)
    for sid, t in merged.items():
        stack = tables.stacks[sid]
        self_t[stack[-1]] += t
        for fid in tables.stack_set(sid):
            total_t[fid] += t
    seen: Counter[int] = Counter()
    for req in requests:
        if req.samples:
            seen.update(frozenset().union(*(tables.stack_set(sid) for sid in req.samples)))
    rows: list[dict[str, Any]] = []
    for fid, total in total_t.items():
        pct = 100.0 * total / grand
        func = tables.functions[fid]
        if pct < MIN_HOTSPOT_PCT or func.stem_candidate:
            continue
        rows.append(
            {
                "function": func.name,
                "file": func.short_file,
                "line": func.line,
                "self_ms": round(1000.0 * self_t.get(fid, 0.0) / n, 4),
                "total_ms": round(1000.0 * total / n, 4),
                "pct": round(pct, 2),
                "share": round(seen[fid] / n, 4),
            }
        )
    rows.sort(key=lambda r: (-r["total_ms"], -r["self_ms"], r["function"]))
    return rows[:MAX_HOTSPOTS]


def aggregate_run(run_dir: Path) -> Path:
    """Write ``run_dir/profiles/`` from the raw sessions; returns ``hotspots.json``'s path."""
    run_dir = Path(run_dir)
    out = run_dir / "profiles"
    tables = Tables()
    cells: dict[str, dict[str, EndpointProfiles]] = {}
    for cell_id, paths in raw_session_files(run_dir).items():
        endpoints = load_cell(paths, tables)
        if endpoints:
            cells[cell_id] = endpoints

    doc: dict[str, Any] = {"format_version": HOTSPOTS_FORMAT_VERSION, "cells": {}}
    speedscope_profiles: list[dict[str, Any]] = []
    used_frames: dict[int, int] = {}
    for cell_id in sorted(cells):
        cell_out: dict[str, Any] = {}
        for endpoint in sorted(cells[cell_id]):
            ep = cells[cell_id][endpoint]
            reqs = ep.requests
            walls = [r.wall_ms for r in reqs]
            p95 = percentile(walls, 0.95)
            tail = [r for r in reqs if r.wall_ms > p95]
            name = safe_name(cell_id, endpoint)
            merged = merged_stacks(reqs)
            files: dict[str, str | None] = {"html": None, "tail_html": None, "folded": None}
            if merged:
                title = f"{endpoint} ({cell_id}, {len(reqs)} requests)"
                write_text(out / f"{name}.html", html_page(merged, tables, title, ep.start))
                files["html"] = f"profiles/{name}.html"
                write_text(
                    out / "folded" / f"{name}.folded",
                    "\n".join(folded_lines(merged, tables)) + "\n",
                )
                files["folded"] = f"profiles/folded/{name}.folded"
                speedscope_profiles.append(
                    speedscope_profile(f"{cell_id} {endpoint}", merged, tables, used_frames)
                )
            tail_merged = merged_stacks(tail)
            if tail_merged:
                title = f"{endpoint} slow tail > p95 {p95:.2f} ms ({cell_id}, {len(tail)} requests)"
                write_text(
                    out / f"{name}_tail.html", html_page(tail_merged, tables, title, ep.start)
                )
                files["tail_html"] = f"profiles/{name}_tail.html"
            cell_out[endpoint] = {
                "profiled_requests": len(reqs),
                "wall_ms_mean": round(sum(walls) / len(reqs), 4) if reqs else 0.0,
                "cpu_ms_mean": round(sum(r.cpu_ms for r in reqs) / len(reqs), 4) if reqs else 0.0,
                "p95_wall_ms": round(p95, 4),
                "tail_requests": len(tail),
                "hotspots": hotspot_table(reqs, tables),
                "tail_hotspots": hotspot_table(tail, tables),
                "files": files,
            }
        doc["cells"][cell_id] = {"endpoints": cell_out}

    speedscope = speedscope_document(
        f"{run_dir.name}: profiled requests per endpoint", speedscope_profiles, tables, used_frames
    )
    write_text(out / "speedscope.json", json.dumps(speedscope, separators=(",", ":")))
    doc["speedscope"] = "profiles/speedscope.json"
    path = out / "hotspots.json"
    write_text(path, json.dumps(doc, indent=1))
    return path
