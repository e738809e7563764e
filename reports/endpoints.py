"""Per-endpoint figures of a cell, repetitions combined, and the tables built from them.

Percentiles of several repetitions come from their merged histograms (never averaged);
a percentile resting on fewer than ``THIN_TAIL_SAMPLES`` samples is flagged thin, with
the summary's own rule, so the report and ``summary.json`` agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from reports import charts
from reports.html import ms, num, svg, table
from runfolder import hdr
from runfolder.figures import ALL, PERCENTILES, samples_above, thin_percentiles
from runfolder.reader import CellHistograms, Run


@dataclass
class EndpointFigures:
    """One cell's figures for one endpoint, repetitions combined."""

    cell_id: str
    target: str
    server: str
    scenario: str
    endpoint: str
    repetitions: int
    requests: int
    failures: dict[str, int]
    rps: float | None
    latency: dict[str, Any] | None
    corrected: dict[str, Any] | None
    generator_bound: bool
    merged: bool
    cpu: str = "–"  # CPU per request as the table shows it (``cpu_text``)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def error_pct(self) -> float:
        return 100 * self.failed / self.requests if self.requests else 0.0


thin = thin_percentiles  # the summary's own rule, so report and summary.json agree


def _stats(hist: Any) -> dict[str, Any] | None:
    count = hist.get_total_count()
    if not count:
        return None
    values = hdr.percentiles_ms(hist, list(PERCENTILES.values()))
    return {
        "count": int(count),
        "min": hist.get_min_value() / 1000,
        "mean": hist.get_mean_value() / 1000,
        "max": hist.get_max_value() / 1000,
        **{k: values[q] for k, q in PERCENTILES.items()},
    }


def _median(values: list[Any]) -> float | None:
    vals = sorted(float(v) for v in values if v is not None)
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def _median_stats(entries: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    lats: list[dict[str, Any]] = [e[key] for e in entries if e.get(key)]
    if not lats:
        return None
    out: dict[str, Any] = {"count": sum(int(x.get("count", 0)) for x in lats)}
    for k in ("min", "mean", "max", *PERCENTILES):
        out[k] = _median([x.get(k) for x in lats])
    return out


def cpu_text(rows: list[dict[str, Any]], entries: list[dict[str, Any]], endpoint: str) -> str:
    """CPU ms per request (medians over repetitions): an endpoint's request-thread mean and
    p50, or the server's reason for having none; all endpoints: the server processes'."""
    if endpoint == ALL:
        server = _median([r.get("server_cpu_ms_per_request") for r in rows])
        if server is not None:
            return f"{ms(server)} (server)"
    mean = _median([(e.get("cpu_ms") or {}).get("mean") for e in entries])
    if mean is not None:
        p50 = _median([(e.get("cpu_ms") or {}).get("p50") for e in entries])
        return f"{ms(mean)} (p50 {ms(p50)})"
    absent = sorted({r for e in entries for r in (e.get("cpu_absent") or {})})
    return "absent: " + ", ".join(absent) if absent else "–"


def cell_figures(run: Run, cell_id: str, hists: CellHistograms | None) -> list[EndpointFigures]:
    """Per endpoint (``ALL`` last): requests summed, rps averaged, percentiles merged."""
    rows = run.cell_rows(cell_id)
    first = rows[0]
    names: dict[str, None] = {}
    for row in rows:
        for name in row["endpoints"]:
            if name != ALL:
                names.setdefault(name, None)
    out = []
    for name in [*sorted(names), ALL]:
        entries = [row["endpoints"][name] for row in rows if name in row["endpoints"]]
        if not entries:
            continue
        failures: dict[str, int] = {}
        for e in entries:
            for status, n in (e.get("failures") or {}).items():
                failures[str(status)] = failures.get(str(status), 0) + int(n)
        merged = len(entries) > 1 and hists is not None and name in hists.endpoints
        if len(entries) == 1:
            latency = entries[0].get("latency_ms")
            corrected = entries[0].get("corrected_latency_ms")
        elif merged:
            assert hists is not None
            latency = _stats(hists.endpoints[name])
            corrected = _stats(hists.corrected[name]) if name in hists.corrected else None
        else:
            latency = _median_stats(entries, "latency_ms")
            corrected = _median_stats(entries, "corrected_latency_ms")
        rps_values = [e.get("rps") for e in entries if e.get("rps") is not None]
        out.append(
            EndpointFigures(
                cell_id=cell_id,
                target=str(first.get("target", "")),
                server=str(first.get("server", "")),
                scenario=str(first.get("scenario", "")),
                endpoint=name,
                repetitions=len(entries),
                requests=sum(int(e.get("requests", 0)) for e in entries),
                failures=failures,
                rps=sum(rps_values) / len(rps_values) if rps_values else None,
                latency=latency,
                corrected=corrected,
                generator_bound=any(r.get("generator_bound") for r in rows),
                merged=merged,
                cpu=cpu_text(rows, entries, name),
            )
        )
    return out


def _pct_cell(lat: dict[str, Any] | None, key: str) -> str:
    if not lat or lat.get(key) is None:
        return "–"
    count = int(lat.get("count") or 0)
    above = samples_above(count, PERCENTILES[key])
    mark = " ⚠" if key in thin_percentiles(count) else ""
    return f"{ms(lat[key])} ({above:,}){mark}"


def _failures_text(f: EndpointFigures) -> str:
    if not f.failures:
        return ""
    return ", ".join(
        f"{status}: {n:,} ({100 * n / f.requests:.2f}%)" for status, n in sorted(f.failures.items())
    )


def _flags(f: EndpointFigures, lat: dict[str, Any] | None) -> str:
    flags = []
    if f.generator_bound:
        flags.append("generator-bound")
    t = thin(int(lat["count"])) if lat else list(PERCENTILES)
    if t:
        flags.append("thin: " + ", ".join(t))
    if f.repetitions > 1 and not f.merged and f.endpoint:
        flags.append("median of repetitions")
    return "; ".join(flags)


def summary_frame(figures: list[EndpointFigures], corrected: bool = False) -> pd.DataFrame:
    """The summary table; server and scenario columns only when they vary."""
    records = []
    for f in figures:
        lat = f.corrected if corrected else f.latency
        records.append(
            {
                "target": f.target,
                "server": f.server,
                "scenario": f.scenario,
                "endpoint": "all endpoints" if f.endpoint == ALL else f.endpoint,
                "reps": f.repetitions,
                "requests": f"{f.requests:,}",
                "req/s": num(f.rps),
                "samples": f"{int(lat['count']):,}" if lat else "0",
                **{f"{k} ms (n above)": _pct_cell(lat, k) for k in PERCENTILES},
                "max ms": ms(lat.get("max")) if lat else "–",
                "CPU ms/req": f.cpu,
                "errors %": f"{f.error_pct:.2f}",
                "failures by status": _failures_text(f),
                "warnings": _flags(f, lat),
            }
        )
    frame = pd.DataFrame.from_records(records)
    for col in ("server", "scenario"):
        if col in frame and frame[col].nunique() <= 1 and len(figures) > 0:
            frame = frame.drop(columns=col)
    keys = [c for c in ("target", "server", "scenario", "endpoint") if c in frame]
    return frame.set_index(keys) if not frame.empty else frame


def side_by_side(figures: list[EndpointFigures]) -> list[dict[str, Any]]:
    """Per server and scenario with several targets: endpoint x target tables."""
    frame = pd.DataFrame(
        [
            {
                "server": f.server,
                "scenario": f.scenario,
                "target": f.target,
                "endpoint": "all endpoints" if f.endpoint == ALL else f.endpoint,
                "req/s": f.rps,
                "p50": (f.latency or {}).get("p50"),
                "p99": (f.latency or {}).get("p99"),
                "errors %": f.error_pct,
            }
            for f in figures
        ]
    )
    blocks: list[Any] = []
    if frame.empty:
        return blocks
    for (server, scenario), group in frame.groupby(["server", "scenario"], sort=False):
        targets = list(dict.fromkeys(group["target"]))
        if len(targets) < 2:
            continue
        wide = {}
        for metric, fmt in (("req/s", num), ("p50", ms), ("p99", ms)):
            pivot = group.pivot_table(
                index="endpoint", columns="target", values=metric, sort=False, dropna=False
            )
            for t in targets:
                unit = "" if metric == "req/s" else " ms"
                col = pivot[t] if t in pivot else pd.Series(index=pivot.index, dtype=float)
                wide[(metric + unit, t)] = col.map(fmt)
        records = pd.DataFrame(wide)
        records.index.name = "endpoint"
        rps = group.pivot_table(index="endpoint", columns="target", values="req/s", sort=False)
        rps = rps[[t for t in targets if t in rps.columns]]
        p99 = group.pivot_table(index="endpoint", columns="target", values="p99", sort=False)
        p99 = p99[[t for t in targets if t in p99.columns]]
        blocks.append(
            {
                "title": f"{server} · {scenario}",
                "table": table(records, index=True),
                "charts": [
                    svg(
                        charts.bars_chart(
                            rps, f"Throughput by target ({server}, {scenario})", "requests/s"
                        )
                    ),
                    svg(
                        charts.bars_chart(
                            p99, f"p99 latency by target ({server}, {scenario})", "ms"
                        )
                    ),
                ],
            }
        )
    return blocks
