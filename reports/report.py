"""One self-contained HTML report per run folder.

``render_report(run_dir)`` reads the run folder only (meta, summary, recorder
histograms, time series, CPU, hotspots) and writes ``run_dir/report.html``: inline
CSS and SVG charts, no scripts, no network fetches. ``build_context`` gathers what the
template shows; its charts, hotspots and environment table are in ``reports.report_sections``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from reports import charts
from reports.breakdown import breakdown_blocks
from reports.endpoints import EndpointFigures, cell_figures, side_by_side, summary_frame
from reports.html import ms, num, render, svg, table
from reports.lead import CellLead, cell_leads, functions_text, read_hotspot_cells, subject_name
from reports.report_sections import (
    environment,
    hotspot_blocks,
    knee_charts,
    spectrum_charts,
    time_charts,
)
from runfolder.errors import RunFolderError
from runfolder.figures import ALL, THIN_TAIL_SAMPLES
from runfolder.reader import Run, load_run


def _named(run: Run, row: dict[str, Any]) -> dict[str, Any]:
    """The row with its target named for people (a user's app: its import string)."""
    return {**row, "target": subject_name(run.meta.get("config"), str(row.get("target", "")))}


def cell_labels(run: Run) -> dict[str, str]:
    """Short, unique names: the target, plus server and scenario when those vary."""
    cell_ids = run.cell_ids()
    firsts = {cid: _named(run, run.cell_rows(cid)[0]) for cid in cell_ids}
    keys = [
        k
        for k in ("target", "server", "scenario")
        if k == "target" or len({str(r.get(k)) for r in firsts.values()}) > 1
    ]
    labels = {cid: " · ".join(str(firsts[cid].get(k, "")) for k in keys) for cid in cell_ids}
    if len(set(labels.values())) < len(labels) or len(cell_ids) == 1:
        return {cid: cid for cid in cell_ids}
    return labels


LITTLE_SLACK = 1.1


def cell_name(run: Run, row: dict[str, Any]) -> str:
    """A cell as people say it: ``wiki.server:app · gunicorn-sync · routes``."""
    named = _named(run, row)
    return " · ".join(str(named.get(k, "")) for k in ("target", "server", "scenario"))


def lead_frame(leads: list[CellLead]) -> pd.DataFrame:
    """The slowest endpoints of every cell, slowest first, and what dominates each."""
    several = len(leads) > 1
    records = []
    for lead in leads:
        for ep in lead.endpoints:
            records.append(
                {
                    **({"cell": lead.name} if several else {}),
                    "endpoint": ep.endpoint,
                    "p50 ms": ms(ep.p50),
                    "p99 ms": ms(ep.p99) + (" ⚠ thin" if ep.thin else ""),
                    "req/s": num(ep.rps),
                    "errors %": f"{ep.error_pct:.2f}",
                    "what dominates the tail": ep.part_short or "– (no Server-Timing)",
                    "top functions, self ms per request": functions_text(ep.hotspots)
                    or ("–" if not ep.breakdown else "– (not profiled)"),
                }
            )
    return pd.DataFrame(records)


def lead_context(run: Run) -> dict[str, Any]:
    leads = cell_leads(run.rows, read_hotspot_cells(run.path), lambda r: cell_name(run, r))
    frame = lead_frame(leads)
    return {
        "lead_sentences": [lead.sentence() for lead in leads],
        "lead_table": table(frame, css="data wrap-text") if not frame.empty else None,
    }


def repetitions_frame(run: Run, labels: dict[str, str]) -> pd.DataFrame | None:
    """All endpoints, one row per repetition: the run-to-run noise comparisons test against."""
    if not any(len(run.cell_rows(c)) > 1 for c in run.cell_ids()):
        return None
    records = []
    for cid in run.cell_ids():
        for row in run.cell_rows(cid):
            e = row["endpoints"].get(ALL) or {}
            lat = e.get("latency_ms") or {}
            records.append(
                {
                    "cell": labels[cid],
                    "repetition": row["repetition"],
                    "requests": f"{int(e.get('requests', 0)):,}",
                    "req/s": num(e.get("rps")),
                    "p50 ms": ms(lat.get("p50")),
                    "p99 ms": ms(lat.get("p99")),
                    "errors %": f"{float(e.get('error_pct') or 0):.2f}",
                    "generator-bound": "yes" if row.get("generator_bound") else "",
                }
            )
    return pd.DataFrame(records).set_index(["cell", "repetition"])


def littles_law(
    run: Run, figures: list[EndpointFigures], labels: dict[str, str]
) -> tuple[pd.DataFrame, list[str]]:
    """Requests in flight = throughput x mean latency (Little's law), per cell.

    A closed-model user has at most one request in flight, so more in flight than
    users means the measurement itself is wrong (clock, counting or window).
    """
    records, warnings = [], []
    for f in figures:
        if f.endpoint != ALL or not f.latency or f.rps is None:
            continue
        first = run.cell_rows(f.cell_id)[0]
        in_flight = f.rps * float(f.latency.get("mean") or 0.0) / 1000
        users, rate = first.get("users"), first.get("rate")
        records.append(
            {
                "cell": labels[f.cell_id],
                "model": "open" if rate else "closed",
                "users": users if not rate else "–",
                "req/s": num(f.rps),
                "mean latency ms": ms(f.latency.get("mean")),
                "in flight (req/s x mean)": num(in_flight, 2),
                "share of users busy": f"{100 * in_flight / users:.0f}%"
                if users and not rate
                else "–",
            }
        )
        if not rate and users and in_flight > LITTLE_SLACK * float(users):
            warnings.append(
                f"{labels[f.cell_id]}: Little's law fails: {in_flight:.1f} requests in flight "
                f"(throughput x mean latency) but only {users} users; the measurement is "
                "suspect (check the recorder's windows and the run's logs)"
            )
    return pd.DataFrame(records), warnings


def build_context(run: Run) -> dict[str, Any]:
    from reports.answers import answers_context

    cell_ids = run.cell_ids()
    labels = cell_labels(run)
    hists = {cid: run.cell_histograms(cid) for cid in cell_ids}
    figures = [f for cid in cell_ids for f in cell_figures(run, cid, hists[cid])]
    for f in figures:
        f.target = subject_name(run.meta.get("config"), f.target)
    warnings = list(run.warnings)
    by_text: dict[str, list[str]] = {}
    for cid in cell_ids:
        rows = run.cell_rows(cid)
        for row in rows:
            for w in row.get("warnings") or []:
                where = labels[cid] + (f" r{row['repetition']}" if len(rows) > 1 else "")
                by_text.setdefault(str(w), []).append(where)
    warnings += [f"{', '.join(where)}: {text}" for text, where in by_text.items()]
    series, cpu = {}, {}
    for cid in cell_ids:
        first = run.cell_rows(cid)[0]
        series[labels[cid]] = run.timeseries(first)
        cpu[labels[cid]] = run.cpu(first)
    repeated = any(len(run.cell_rows(c)) > 1 for c in cell_ids)
    time_note = "Per second, all endpoints" + (
        "; the first repetition of each cell is shown." if repeated else "."
    )
    open_rows = [r for r in run.rows if r.get("open_model")]
    open_table = None
    if open_rows:
        open_table = table(
            pd.DataFrame(
                [
                    {
                        "cell": labels.get(r["cell_id"], r["cell_id"]),
                        "rep": r["repetition"],
                        **{
                            k: r["open_model"].get(k)
                            for k in (
                                "rate",
                                "achieved_rps",
                                "scheduled",
                                "sent",
                                "late",
                                "dropped",
                                "dropped_steady",
                                "dropped_outside",
                            )
                        },
                    }
                    for r in open_rows
                ]
            )
        )
    corrected = [f for f in figures if f.corrected]
    dropped = sum(int((r.get("open_model") or {}).get("dropped_steady") or 0) for r in open_rows)
    little, little_warnings = littles_law(run, figures, labels)
    reps = repetitions_frame(run, labels)
    warnings += little_warnings
    side = side_by_side(figures)
    hot, speedscope = hotspot_blocks(run, labels)
    timing = breakdown_blocks(run, labels)
    knee = run.shape in ("step", "spike") or any(
        s.loc[s["endpoint"] == ALL, "users"].nunique() > 2
        for s in series.values()
        if "users" in s and not s.empty
    )
    answers = answers_context(run.path, run.rows)
    toc = (
        [("answers", "What each technique buys")]
        if (answers["answers_table"] or answers["ladder_charts"])
        else []
    )
    lead = lead_context(run)
    if lead["lead_sentences"]:
        toc.insert(0, ("lead", "Slowest endpoints"))
    toc += [("summary", "Summary")]
    if side:
        toc.append(("targets", "Targets"))
    toc += [("time", "Over time"), ("spectrum", "Distribution")]
    if knee:
        toc.append(("knee", "Latency vs throughput"))
    if timing:
        toc.append(("breakdown", "Where the time goes"))
    toc.append(("cpu", "CPU"))
    if hot:
        toc.append(("hotspots", "Hotspots"))
    toc.append(("environment", "Environment"))
    git = run.meta.get("git") or {}
    return {
        "title": f"Benchmark report: {run.name}",
        "app": (run.meta.get("config") or {}).get("app"),
        **lead,
        "run_name": run.name,
        "meta": run.meta,
        "commit": str(git.get("commit") or "?")[:12] + ("+dirty" if git.get("dirty") else ""),
        "profiled": run.profiled,
        "shape": run.shape,
        "open_model": run.open_model,
        "toc": toc,
        "warnings": list(dict.fromkeys(warnings)),
        "thin_limit": THIN_TAIL_SAMPLES,
        "summary_table": table(summary_frame(figures), css="data summary", index=True),
        "corrected_table": table(
            summary_frame(corrected, corrected=True), css="data summary", index=True
        )
        if corrected
        else None,
        "open_model_table": open_table,
        "dropped_steady": dropped,
        "little_table": table(little) if not little.empty else None,
        "repetitions_table": table(reps, index=True) if reps is not None else None,
        "side_by_side": side,
        "side_by_side_charts": [c for b in side for c in b["charts"]],
        "time_note": time_note,
        "time_charts": time_charts(run, series),
        "spectrum_charts": spectrum_charts(run, hists, labels),
        "knee_charts": knee_charts(series) if knee else [],
        "cpu_charts": [
            svg(charts.cpu_chart(c, f"CPU: {name}")) for name, c in cpu.items() if not c.empty
        ],
        "breakdown": timing,
        "hotspots": hot,
        "speedscope": speedscope,
        **answers,
        **environment(run),
    }


def render_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` from the run folder alone and return its path."""
    run = load_run(Path(run_dir))
    html = render("report.html.j2", **build_context(run))
    out = run.path / "report.html"
    tmp = out.with_name(".report.html.tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise RunFolderError(
            f"cannot write {out}: {exc.strerror}; is the run folder writable?"
        ) from None
    return out
