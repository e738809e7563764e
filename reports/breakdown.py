"""Where the time goes: the report's breakdown section and the part a regression grew in.

Reads the summary rows' ``breakdown`` (``runfolder/breakdown.py``) and, for growth with
offered load, the recorder's per-second windows (``runfolder.breakdown.breakdown_series``).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from reports import charts
from reports.html import svg, table
from runfolder.breakdown import (
    PART_NAMES,
    absent_text,
    breakdown_series,
    load_levels,
    step_series,
    tail_sentence,
)
from runfolder.figures import ALL
from runfolder.reader import Run

STACK: tuple[str, ...] = ("queue", "db", "up", "tpl", "other")  # client latency, bottom up
COLORS = {
    "queue": "#9ca3af",
    "db": "#2563eb",
    "up": "#ea580c",
    "tpl": "#16a34a",
    "other": "#9333ea",
}
MAX_GROWTH_CHARTS = 6  # per cell: the busiest endpoints
MIN_GROWTH_MS = 0.05  # a part must grow by this much, and ...
MIN_GROWTH_RATIO = 0.10  # ... by this share, to be named in a verdict


def _breakdowns(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: e["breakdown"]
        for name, e in sorted((row.get("endpoints") or {}).items())
        if name != ALL and e.get("breakdown")
    }


def stacked_chart(breakdowns: dict[str, dict[str, Any]], title: str) -> str:
    """Per endpoint two stacked bars: each part's p50, and each part's p99."""
    names = list(breakdowns)
    with plt.rc_context(charts.STYLE):
        fig, axes = charts._figure(height=max(1.8, 0.55 * len(names) + 0.9))
        ax = axes[0][0]
        ys: list[float] = []
        ticks: list[str] = []
        for i, name in enumerate(names):
            for j, q in enumerate(("p50", "p99")):
                y = i * 2.6 + j
                left = 0.0
                for part in STACK:
                    figure = breakdowns[name]["parts"].get(part)
                    if not figure:
                        continue
                    width = float(figure[q])
                    ax.barh(
                        y,
                        width,
                        left=left,
                        height=0.85,
                        color=COLORS[part],
                        label=PART_NAMES[part] if (i, j) == (0, 0) else None,
                    )
                    left += width
                ys.append(y)
                ticks.append(f"{charts.label(name, charts.LEGEND_CHARS)} {q}")
        ax.set_yticks(ys)
        ax.set_yticklabels(ticks)
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("ms (each part's own percentile)")
        ax.set_title(charts.label(title))
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return charts._svg(fig, tight=True)


def growth_chart(frame: pd.DataFrame, title: str, x: str = "users") -> str:
    """Each part's p99 against the offered load (users or a step's rate), one point a level."""
    with plt.rc_context(charts.STYLE):
        fig, axes = charts._figure()
        ax = axes[0][0]
        levels = frame.sort_values(x)
        for part in STACK:
            col = f"{part}_p99"
            if col in levels and levels[col].notna().any():
                ax.plot(
                    levels[x],
                    levels[col],
                    marker="o",
                    ms=3,
                    color=COLORS[part],
                    label=PART_NAMES[part],
                )
        ax.set_xlabel("users (offered load)" if x == "users" else "offered rate (req/s), per step")
        ax.set_ylabel("p99 ms")
        ax.set_ylim(bottom=0)
        ax.set_title(charts.label(title))
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return charts._svg(fig)


def cpu_cell(endpoint: dict[str, Any]) -> str:
    """An endpoint's request-thread CPU ms per request (p50 / mean), or why it has none."""
    cpu = endpoint.get("cpu_ms")
    if cpu:
        return f"{cpu['p50']:.3f} / {cpu['mean']:.3f}"
    return absent_text(endpoint.get("cpu_absent")) or "absent"


def breakdown_table(
    breakdowns: dict[str, dict[str, Any]], endpoints: dict[str, dict[str, Any]] | None = None
) -> pd.DataFrame:
    rows = []
    for name, b in breakdowns.items():
        row: dict[str, Any] = {"endpoint": name, "timed": b.get("timed")}
        for part in ("queue", "app", *STACK[1:]):
            figure = b["parts"].get(part)
            row[f"{part} p50/p99 ms"] = (
                f"{figure['p50']:.2f} / {figure['p99']:.2f}" if figure else "absent"
            )
        if endpoints is not None:  # CPU overlaps the parts: beside them, not among them
            row["CPU p50/mean ms"] = cpu_cell(endpoints.get(name) or {})
        queries = b.get("queries")
        row["queries/req p50 (min-max)"] = (
            f"{queries['p50']} ({queries['min']}-{queries['max']})" if queries else "absent"
        )
        row["dominates the tail"] = PART_NAMES.get(b.get("dominant") or "", "")
        rows.append(row)
    return pd.DataFrame(rows)


def breakdown_blocks(run: Run, labels: dict[str, str]) -> list[dict[str, Any]]:
    """One block per cell with Server-Timing figures: table, sentences, charts."""
    blocks = []
    for cell_id in run.cell_ids():
        rows = run.cell_rows(cell_id)
        breakdowns = _breakdowns(rows[0])
        if not breakdowns:
            continue
        title = labels.get(cell_id, cell_id)
        sentences = [tail_sentence(name, b) for name, b in breakdowns.items()]
        flags = [
            f"{name}: {b['n_plus_one']}" for name, b in breakdowns.items() if b.get("n_plus_one")
        ]
        chart_list = [svg(stacked_chart(breakdowns, f"Where the time goes: {title}"))]
        busiest = sorted(breakdowns, key=lambda n: -int(breakdowns[n].get("timed") or 0))
        busiest = busiest[:MAX_GROWTH_CHARTS]
        steps = _step_recorders(run, rows[0])
        recorder = None if steps else run.recorder(rows[0])
        if len(steps) > 1:  # a capacity ladder: one point per fixed-rate step
            ladder = pd.DataFrame(step_series(steps))
            for name in busiest:
                part = ladder[ladder["endpoint"] == name] if not ladder.empty else ladder
                if not part.empty:
                    chart_list.append(svg(growth_chart(part, f"{name} per step: {title}", "rate")))
        elif recorder is not None and len(load_levels(recorder)) > 2:
            series = pd.DataFrame(breakdown_series(recorder, busiest))
            for name in busiest:
                part = series[series["endpoint"] == name] if not series.empty else series
                if not part.empty:
                    chart_list.append(svg(growth_chart(part, f"{name} with load: {title}")))
        blocks.append(
            {
                "title": title,
                "table": table(breakdown_table(breakdowns, rows[0].get("endpoints") or {})),
                "sentences": sentences,
                "flags": flags,
                "charts": chart_list,
            }
        )
    return blocks


def _step_recorders(run: Run, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The recorder outputs of a capacity search's steps (``steps/test-NNN``), in order."""
    import json

    folder = run.rep_dir(row)  # a capacity row names its confirmation step's folder
    steps = folder.parent if folder.name.startswith("test-") else folder / "steps"
    out = []
    for path in sorted(steps.glob("test-*/recorder.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # derived view: a step that cannot be read is left out
    return out


def part_that_grew(
    base: dict[str, Any] | None, cand: dict[str, Any] | None, q: str = "p99"
) -> str | None:
    """The part of the request whose ``q`` grew most from ``base`` to ``cand`` breakdowns.

    For a regression's verdict: "the database p99 grew 2.10 -> 5.30 ms (+152%)". None
    when either side has no breakdown or no part grew by 10% and 0.05 ms.
    """
    if not base or not cand:
        return None
    best: tuple[float, str, float, float] | None = None
    for part in STACK:
        a = (base.get("parts") or {}).get(part)
        b = (cand.get("parts") or {}).get(part)
        if not a or not b:
            continue
        before, after = float(a[q]), float(b[q])
        grew = after - before
        if grew < MIN_GROWTH_MS or grew < MIN_GROWTH_RATIO * before:
            continue
        if best is None or grew > best[0]:
            best = (grew, part, before, after)
    if best is None:
        return None
    _, part, before, after = best
    change = f" (+{100 * (after / before - 1):.0f}%)" if before > 0 else ""
    return f"{PART_NAMES[part]} {q} grew {before:.2f} -> {after:.2f} ms{change}"


LATENCY_METRICS = ("p50", "p90", "p99", "p99.9")


def _median_parts(rows: list[dict[str, Any]], endpoint: str, q: str) -> dict[str, Any] | None:
    """Each part's ``q`` as the median over repetitions (a breakdown-shaped dict)."""
    values: dict[str, list[float]] = {}
    for row in rows:
        b = ((row.get("endpoints") or {}).get(endpoint) or {}).get("breakdown")
        for part, figure in ((b or {}).get("parts") or {}).items():
            values.setdefault(part, []).append(float(figure[q]))
    if not values:
        return None
    parts = {p: {q: float(pd.Series(v).median())} for p, v in values.items()}
    return {"parts": parts}


def regression_part(
    base_rows: list[dict[str, Any]],
    cand_rows: list[dict[str, Any]],
    endpoint: str,
    verdicts: dict[str, str],
) -> str | None:
    """For an endpoint whose throughput or latency regressed: the part that grew, or None.

    ``verdicts`` maps metric -> verdict (``reports.stats``). The tail is looked at when
    a tail percentile regressed, else the median.
    """
    from reports.comparison import REGRESSED

    regressed = [m for m, v in verdicts.items() if v == REGRESSED]
    if not regressed:
        return None
    q = "p99" if any(m in ("p90", "p99", "p99.9") for m in regressed) else "p50"
    return part_that_grew(
        _median_parts(base_rows, endpoint, q), _median_parts(cand_rows, endpoint, q), q
    )
