"""The report's first section: what each technique buys, and the capacity ladders.

Read from ``summary.json`` alone: the ``studies`` section (``python bench.py`` / ``suite``)
gives the table (``reports.suite_tables``, shared with the terminal) and one chart per
study (each pair's throughput, both sides); rows with ``capacity`` (the ``capacity``
command) give the ladder chart: latency against offered rate with the SLO line and the
knee (the capacity found).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from reports import charts, suite_tables
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


def study_chart(st: dict[str, Any]) -> str:
    """Each pair's throughput at saturation, baseline and variant side by side."""
    base, var = st["baseline"], st["variant"]
    frame = pd.DataFrame(
        {
            f"{base['target']} · {base['server']}": pd.Series(base["segments"], dtype=float),
            f"{var['target']} · {var['server']}": pd.Series(var["segments"], dtype=float),
        }
    )
    orders = list(st.get("orders") or [])
    frame.index = [
        f"{i + 1} {orders[i]}" if i < len(orders) else str(i + 1) for i in range(len(frame))
    ]
    title = f"{st['technique']}: throughput at saturation per pair ({st['workload']})"
    return charts.bars_chart(frame, title, "req/s, every connection busy")


def answers_frame(section: dict[str, Any]) -> pd.DataFrame:
    """The answers table (``reports.suite_tables``, as the terminal prints it) plus each
    study's sentence and why line."""
    frame = suite_tables.frame(suite_tables.answers_table(section))
    studies = section.get("studies", [])
    frame["verdict"] = [st["verdict"] for st in studies]
    frame["why"] = [st.get("why", "–") for st in studies]
    return frame


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
        out["headline_table"] = table(suite_tables.frame(suite_tables.headline_table(headline)))
        out["headline_sentence"] = headline.get("sentence")
    if section and section.get("studies"):
        out["answers_table"] = table(answers_frame(section))
        out["study_charts"] = [
            svg(study_chart(st))
            for st in section["studies"]
            if st["baseline"].get("segments") and st["variant"].get("segments")
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
