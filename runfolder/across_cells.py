"""Figures across the cells of one run, from their summary rows: what profiling cost
(``profiling_overhead``: cell ``X`` against ``X-profiled``) and the scaling curve
(``scaling``: throughput, p99 and efficiency per size, and whether the database bounds it).
``runfolder.figures`` makes each row; the writer stores these beside them in summary.json.
"""

from __future__ import annotations

from typing import Any

from runfolder.figures import ALL


def _by_cell(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["cell_id"], []).append(row)
    return grouped


def _median(values: list[float | None]) -> float | None:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    mid = len(present) // 2
    return present[mid] if len(present) % 2 else (present[mid - 1] + present[mid]) / 2


def _cell_figure(rows: list[dict[str, Any]], endpoint: str, key: str) -> float | None:
    vals = []
    for row in rows:
        entry = row["endpoints"].get(endpoint)
        if not entry:
            continue
        vals.append(entry["rps"] if key == "rps" else (entry["latency_ms"] or {}).get(key))
    return _median(vals)


def _pct_change(a: float | None, b: float | None, invert: bool = False) -> float | None:
    if not a or not b:
        return None
    change = 100 * (b / a - 1)
    return round(-change if invert else change, 2)


def profiling_overhead(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per endpoint: throughput and p50 with and without profiling (``--overhead`` runs).

    Pairs cell ``X`` with ``X-profiled``; medians over repetitions, measured interleaved.
    """
    grouped = _by_cell(rows)
    out = []
    for cell_id, plain_rows in grouped.items():
        profiled_rows = grouped.get(cell_id + "-profiled")
        if not profiled_rows:
            continue
        endpoints = sorted(set(plain_rows[0]["endpoints"]) & set(profiled_rows[0]["endpoints"]))
        for endpoint in endpoints:
            rps_a = _cell_figure(plain_rows, endpoint, "rps")
            rps_b = _cell_figure(profiled_rows, endpoint, "rps")
            p50_a = _cell_figure(plain_rows, endpoint, "p50")
            p50_b = _cell_figure(profiled_rows, endpoint, "p50")
            out.append(
                {
                    "cell_id": cell_id,
                    "endpoint": endpoint,
                    "rps_unprofiled": rps_a,
                    "rps_profiled": rps_b,
                    "throughput_cost_pct": _pct_change(rps_a, rps_b, invert=True),
                    "p50_unprofiled_ms": p50_a,
                    "p50_profiled_ms": p50_b,
                    "p50_cost_pct": _pct_change(p50_a, p50_b),
                    "repetitions": min(len(plain_rows), len(profiled_rows)),
                }
            )
    return out


def scaling(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scale-suite rows: throughput, p99 and efficiency relative to the smallest size.

    Efficiency is throughput per worker process (workers x instances) divided by the
    same figure of the smallest cell of the same target, server and scenario.
    """
    grouped = _by_cell(rows)
    if not any("-w" in cid and "-i" in cid for cid in grouped):
        return []
    families: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for cell_id, cell_rows in grouped.items():
        first = cell_rows[0]
        if cell_id.endswith("-profiled"):
            continue
        size = first["workers"] * first["instances"]
        families.setdefault((first["target"], first["server"], first["scenario"]), []).append(
            {
                "cell_id": cell_id,
                "target": first["target"],
                "server": first["server"],
                "scenario": first["scenario"],
                "workers": first["workers"],
                "instances": first["instances"],
                "processes": size,
                "rps": _cell_figure(cell_rows, ALL, "rps"),
                "p99_ms": _cell_figure(cell_rows, ALL, "p99"),
                "server_cpu_pct": _median([r.get("server_cpu_mean_pct") for r in cell_rows]),
                "database_cpu_pct": _median([r.get("database_cpu_mean_pct") for r in cell_rows]),
                "generator_bound": any(r["generator_bound"] for r in cell_rows),
            }
        )
    out = []
    for family in families.values():
        family.sort(key=lambda r: (r["processes"], r["instances"]))
        base = family[0]
        base_per = base["rps"] / base["processes"] if base["rps"] else None
        for entry in family:
            per = entry["rps"] / entry["processes"] if entry["rps"] else None
            entry["efficiency"] = round(per / base_per, 3) if per and base_per else None
            entry["database_bound"] = database_bound(entry)
            out.append(entry)
    return out


def database_bound(entry: dict[str, Any]) -> bool:
    """The database, not the app, limits a scale cell: its server used at least as much
    CPU as every app process together (they share the server CPUs, so the app cannot
    grow past it)."""
    db, app = entry.get("database_cpu_pct"), entry.get("server_cpu_pct")
    return bool(db and app and db >= app)
