"""The parts of a run's report built from the run folder alone: the time-series, spectrum and
knee charts, the hotspot blocks, and the environment table. ``reports.report`` builds the
context around them and renders the page.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import pandas as pd

from reports import charts
from reports.html import ms, num, safe_href, svg, table
from runfolder import hdr
from runfolder.figures import ALL
from runfolder.reader import CellHistograms, Run

MAX_SPECTRUM_LINES = 8


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
