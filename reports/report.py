"""One self-contained HTML report per run folder.

``render_report(run_dir)`` reads the run folder only (meta, summary, recorder
histograms, time series, CPU, hotspots) and writes ``run_dir/report.html``: inline
CSS and SVG charts, no scripts, no network fetches.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pandas as pd

from reports import charts
from reports.breakdown import breakdown_blocks
from reports.endpoints import EndpointFigures, cell_figures, side_by_side, summary_frame
from reports.html import ms, num, render, safe_href, svg, table
from reports.lead import CellLead, cell_leads, functions_text, read_hotspot_cells, subject_name
from runfolder import hdr
from runfolder.errors import RunFolderError
from runfolder.figures import ALL, THIN_TAIL_SAMPLES
from runfolder.reader import CellHistograms, Run, load_run

MAX_SPECTRUM_LINES = 8


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


def time_charts(run: Run, series: dict[str, pd.DataFrame]) -> list[Any]:
    alls = {name: s[s["endpoint"] == ALL] for name, s in series.items()}
    out = [svg(charts.line_chart(alls, "rps", "Throughput (all endpoints)", "requests/s"))]
    if any("users" in s and s["users"].notna().any() for s in alls.values()):
        out.append(svg(charts.line_chart(alls, "users", "Active users", "users")))
    for name, s in alls.items():
        steady_t: Any = []
        if "steady" in s:
            steady_t = s.loc[s.get("steady", pd.Series(dtype=int)) == 1, "t"]
        steady = (float(min(steady_t)) - 0.5, float(max(steady_t)) + 0.5) if len(steady_t) else None
        out.append(svg(charts.percentiles_chart(s, f"Latency percentiles: {name}", steady)))
    return out


def spectrum_charts(
    run: Run, hists: dict[str, CellHistograms], labels: dict[str, str]
) -> list[Any]:
    out = []
    for cell_id, h in hists.items():
        if not h.endpoints:
            continue
        names = sorted(
            (n for n in h.endpoints if n != ALL), key=lambda n: -h.endpoints[n].get_total_count()
        )[: MAX_SPECTRUM_LINES - 1]
        lines: dict[str, list[tuple[float, float]]] = {}
        dashed = []
        single = len(names) == 1  # ALL would hide the one endpoint's line
        for name in ([] if single else [ALL]) + names:
            shown = "all endpoints" if name == ALL else name
            lines[shown] = hdr.spectrum(h.endpoints[name])
            if name in h.corrected:
                lines[f"{shown} (corrected)"] = hdr.spectrum(h.corrected[name])
                dashed.append(f"{shown} (corrected)")
        out.append(
            svg(charts.spectrum_chart(lines, f"Percentile spectrum: {labels[cell_id]}", dashed))
        )
    return out


def knee_charts(series: dict[str, pd.DataFrame]) -> list[Any]:
    points, levels = {}, {}
    for name, s in series.items():
        alls = s[s["endpoint"] == ALL]
        if alls.empty:
            continue
        points[name] = alls
        if "users" in alls and alls["users"].notna().any():
            levels[name] = (
                alls.groupby("users")[["rps", "p50", "p99"]]
                .median()
                .reset_index()
                .sort_values("rps")
            )
    if not points:
        return []
    return [svg(charts.knee_chart(points, levels, "p50 and p99 against throughput"))]


def hotspot_blocks(run: Run, labels: dict[str, str]) -> tuple[list[dict[str, Any]], str | None]:
    data = run.hotspots or {}
    blocks: list[Any] = []
    for cell_id, cell in (data.get("cells") or {}).items():
        for endpoint, e in ((cell or {}).get("endpoints") or {}).items():
            if not isinstance(e, dict):
                continue
            stats = (
                f"{e.get('profiled_requests', '?')} profiled requests · mean wall "
                f"{ms(e.get('wall_ms_mean'))} ms · mean CPU {ms(e.get('cpu_ms_mean'))} ms · "
                f"p95 wall {ms(e.get('p95_wall_ms'))} ms · "
                f"{e.get('tail_requests', 0)} tail requests"
            )
            files = e.get("files") or {}
            names = {"html": "profile", "tail_html": "tail profile", "folded": "folded stacks"}
            links = [(names.get(k, k), h) for k, v in files.items() if (h := safe_href(v))]
            blocks.append(
                {
                    "cell": labels.get(cell_id, cell_id),
                    "endpoint": endpoint,
                    "stats": stats,
                    "links": links,
                    "table": table(_hotspot_frame(e.get("hotspots") or [])),
                    "tail_table": table(_hotspot_frame(e.get("tail_hotspots") or []))
                    if e.get("tail_hotspots")
                    else None,
                }
            )
    return blocks, safe_href(data.get("speedscope"))


def _hotspot_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "function": h.get("function", ""),
                "where": f"{h.get('file', '')}:{h.get('line', '')}",
                "self ms/req": ms(h.get("self_ms")),
                "total ms/req": ms(h.get("total_ms")),
                "% of request": num(h.get("pct")),
            }
            for h in items[:15]
            if isinstance(h, dict)
        ]
    )


def environment(run: Run) -> dict[str, Any]:
    meta = run.meta
    machine = meta.get("machine") or {}
    git = meta.get("git") or {}
    env = [(k, str(v)) for k, v in machine.items()]
    dirty = " (dirty tree)" if git.get("dirty") else ""
    env += [
        ("python", str(meta.get("python", "?"))),
        ("git commit", f"{git.get('commit', '?')}{dirty}"),
        ("cpu pinning", json.dumps(meta.get("pinning"))),
    ]
    server = meta.get("server_environment") or {}
    env += _server_lines(server)
    if server.get("packages"):  # a user's app: the packages its server ran with
        harness = set(server.get("from_harness") or ())
        packages = pd.DataFrame(
            [
                (name, version, "harness" if name in harness else "app's environment")
                for name, version in sorted(server["packages"].items())
            ],
            columns=["package (server)", "version", "from"],
        )
    else:
        packages = pd.DataFrame(
            sorted((meta.get("packages") or {}).items()), columns=["package", "version"]
        )
    commands = "\n".join(
        shlex.join(str(a) for a in c) if isinstance(c, list) else str(c)
        for c in meta.get("commands") or []
    )
    return {
        "environment": env,
        "app_line": app_line(server),
        "packages_table": table(packages),
        "commands": commands or "(none recorded)",
        "config": json.dumps(meta.get("config"), indent=2, default=str),
    }


def app_line(server: dict[str, Any]) -> str | None:
    """The header's words on a user's app: its version and the Flask its server ran."""
    if not server:
        return None
    app = server.get("app") or {}
    name = app.get("distribution") or app.get("module") or "app"
    version = f" {app['version']}" if app.get("version") else " (no installed version)"
    flask = (server.get("packages") or {}).get("flask", "?")
    python = f"Python {server.get('python', '?')} at {server.get('prefix', '?')}"
    return f"{name}{version} · Flask {flask} · {python}"


def _server_lines(server: dict[str, Any]) -> list[tuple[str, str]]:
    if not server:
        return []
    app = server.get("app") or {}
    given = server.get("env") or {}
    lines = [
        ("app", f"{app.get('distribution') or app.get('module')} {app.get('version') or ''}"),
        ("app code", str(app.get("file"))),
        ("server python", f"{server.get('python')} ({server.get('executable')})"),
        ("from the harness", ", ".join(server.get("from_harness") or ()) or "nothing"),
        ("server variables", ", ".join(f"{k}={v}" for k, v in given.items()) or "none"),
    ]
    if server.get("error"):
        lines.append(("could not ask the server's python", str(server["error"])))
    return lines


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
