"""Per-function time per request compared between two profiled runs.

Cells are matched by ``cell_id``; when each run holds exactly one profiled cell the two
are compared whatever their ids (baseline vs candidate, cached vs uncached). Within a
cell and endpoint, functions are matched by (file, function) so that a function whose
definition moved lines between the two commits is still the same function. A function
missing on one side counts as 0 ms there (absent, or under the hotspot table's 0.1%
floor).

Rows are sorted by the absolute change in total (inclusive) ms per request, largest
first, the order in which a regression should be read; self-time figures are given
beside it to say where inside the chain the time went.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from profiles.aggregate import aggregate_run


def load_hotspots(run_dir: Path) -> dict[str, Any]:
    """``run_dir/profiles/hotspots.json``, aggregated first when only raw sessions exist."""
    path = Path(run_dir) / "profiles" / "hotspots.json"
    if not path.exists():
        path = aggregate_run(Path(run_dir))
    return json.loads(path.read_text(encoding="utf-8"))


def match_cells(cells_a: dict[str, Any], cells_b: dict[str, Any]) -> list[tuple[str, str]]:
    if len(cells_a) == 1 and len(cells_b) == 1:
        return [(next(iter(cells_a)), next(iter(cells_b)))]
    return [(c, c) for c in sorted(set(cells_a) & set(cells_b))]


def diff_hotspots(run_a: Path, run_b: Path) -> list[dict[str, Any]]:
    """Rows: cell, endpoint, function, file, lines, ms per request in A and B, and change."""
    a = load_hotspots(run_a)["cells"]
    b = load_hotspots(run_b)["cells"]
    rows: list[dict[str, Any]] = []
    for cell_a, cell_b in match_cells(a, b):
        eps_a = a[cell_a]["endpoints"]
        eps_b = b[cell_b]["endpoints"]
        for endpoint in sorted(set(eps_a) & set(eps_b)):
            funcs_a = _by_function(eps_a[endpoint]["hotspots"])
            funcs_b = _by_function(eps_b[endpoint]["hotspots"])
            for key in set(funcs_a) | set(funcs_b):
                ra, rb = funcs_a.get(key), funcs_b.get(key)
                total_a = ra["total_ms"] if ra else 0.0
                total_b = rb["total_ms"] if rb else 0.0
                self_a = ra["self_ms"] if ra else 0.0
                self_b = rb["self_ms"] if rb else 0.0
                rows.append(
                    {
                        "cell_id": cell_a if cell_a == cell_b else f"{cell_a} vs {cell_b}",
                        "cell_a": cell_a,
                        "cell_b": cell_b,
                        "endpoint": endpoint,
                        "function": key[1],
                        "file": key[0],
                        "line_a": ra["line"] if ra else None,
                        "line_b": rb["line"] if rb else None,
                        "ms_a": total_a,
                        "ms_b": total_b,
                        "change_ms": round(total_b - total_a, 4),
                        "change_pct": (
                            round(100.0 * (total_b - total_a) / total_a, 2) if total_a else None
                        ),
                        "self_ms_a": self_a,
                        "self_ms_b": self_b,
                        "self_change_ms": round(self_b - self_a, 4),
                    }
                )
    rows.sort(
        key=lambda r: (
            -abs(r["change_ms"]),
            -abs(r["self_change_ms"]),
            r["cell_id"],
            r["endpoint"],
            r["function"],
        )
    )
    return rows


def _by_function(hotspots: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in hotspots:
        key = (row["file"], row["function"])
        if key in out:  # same name twice in one file (nested defs): add them up
            prev = out[key]
            out[key] = {
                **prev,
                "total_ms": prev["total_ms"] + row["total_ms"],
                "self_ms": prev["self_ms"] + row["self_ms"],
            }
        else:
            out[key] = row
    return out
