"""The report's first section: what each technique buys, and the capacity ladders.

Read from ``summary.json`` alone: the ``studies`` section (``python bench.py`` / ``suite``)
gives the table and one chart per study (each repetition's capacity, both sides); rows
with ``capacity`` (``capacity`` and the suite) give the ladder chart: latency against
offered rate with the SLO line and the knee (the capacity found).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from reports import charts
from reports.html import svg, table


def summary_section(run_path: Path, name: str) -> dict[str, Any] | None:
    try:
        data = json.loads((run_path / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    section = data.get(name)
    return section if isinstance(section, dict) else None


def studies_section(run_path: Path) -> dict[str, Any] | None:
    return summary_section(run_path, "studies")


def _thin(value: float | None, thin: bool) -> str:
    if value is None:
        return "–"
    return f"thin ({value:.1f})" if thin else f"{value:.1f}"


def answers_frame(section: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for st in section.get("studies", []):
        base, var = st["baseline"], st["variant"]
        common = st.get("common") or {}
        ci = st.get("ci")
        rows.append(
            {
                "technique": st["technique"] + (" (noise floor)" if st.get("control") else ""),
                "workload": st["workload"],
                "SLO": st["slo"]["text"],
                "baseline": f"{base['target']} · {base['server']}",
                "variant": f"{var['target']} · {var['server']}",
                "capacity req/s": f"{_n(base['capacity'])} → {_n(var['capacity'])}",
                "ratio (95% CI)": (
                    f"{st['ratio']:.2f}× ({ci[0]:.2f}–{ci[1]:.2f})"
                    if st.get("ratio") is not None and ci
                    else "–"
                ),
                "p99 ms at common rate": (
                    f"{_thin(common.get('base_p99'), common.get('base_thin', False))} → "
                    f"{_thin(common.get('variant_p99'), common.get('variant_thin', False))} "
                    f"at {common['rate']:.0f}/s"
                    if common.get("base_p99") is not None
                    else "–"
                ),
                "verdict": st["verdict"],
                "why (profiled samples)": st.get("why", "–"),
            }
        )
    return pd.DataFrame(rows)


def _n(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def study_chart(st: dict[str, Any]) -> str:
    """Each repetition's capacity, baseline and variant side by side."""
    base, var = st["baseline"], st["variant"]
    frame = pd.DataFrame(
        {
            f"{base['target']} · {base['server']}": pd.Series(base["repetitions"], dtype=float),
            f"{var['target']} · {var['server']}": pd.Series(var["repetitions"], dtype=float),
        }
    )
    frame.index = [f"rep {i + 1}" for i in range(len(frame))]
    title = f"{st['technique']}: capacity per repetition ({st['workload']})"
    return charts.bars_chart(frame, title, "req/s under " + st["slo"]["text"])


def headline_frame(headline: dict[str, Any]) -> pd.DataFrame:
    """The browse journey's endpoints, slowest first, with their top functions."""
    rows = []
    for ep in headline.get("endpoints", []):
        rows.append(
            {
                "endpoint": ep["endpoint"],
                "req/s": ep["rps"],
                "p50 ms": _thin(ep.get("p50"), "p50" in ep.get("thin", [])),
                "p99 ms": _thin(ep.get("p99"), "p99" in ep.get("thin", [])),
                "errors %": ep.get("error_pct"),
                "top functions (self ms per request)": ", ".join(
                    f"{h['function']} {h['self_ms']:.1f}" for h in ep.get("hotspots", [])
                )
                or "–",
            }
        )
    return pd.DataFrame(rows)


def answers_context(run_path: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    section = studies_section(run_path)
    headline = summary_section(run_path, "headline")
    ladders = [r for r in rows if r.get("capacity")]
    out: dict[str, Any] = {
        "answers_table": None,
        "study_charts": [],
        "ladder_charts": [],
        "answers_notes": [],
        "headline_table": None,
        "headline_sentence": None,
    }
    if headline and headline.get("endpoints"):
        out["headline_table"] = table(headline_frame(headline))
        out["headline_sentence"] = headline.get("sentence")
    if section and section.get("studies"):
        out["answers_table"] = table(answers_frame(section))
        out["study_charts"] = [
            svg(study_chart(st))
            for st in section["studies"]
            if st["baseline"]["repetitions"] and st["variant"]["repetitions"]
        ]
        out["answers_notes"] = list(section.get("skipped", []))
    if ladders:
        by_study: dict[str, list[dict[str, Any]]] = {}
        for r in ladders:
            by_study.setdefault(str(r.get("study") or r["cell_id"]), []).append(r)
        out["ladder_charts"] = [
            svg(charts.ladder_chart(group, f"Capacity ladder: {key}"))
            for key, group in by_study.items()
        ]
    return out
