"""Charts as small inline SVG strings (matplotlib, Agg backend).

Text stays text (``svg.fonttype = none``): smaller files, system fonts, no web
fonts. Every SVG gets its element ids prefixed so several charts can live in one
HTML page without clip-path ids colliding. Long series are binned to at most
``MAX_POINTS`` points so a one-hour run stays small.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from cycler import cycler
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

MAX_POINTS = 300
LEGEND_CHARS = 26
WIDTH_IN, HEIGHT_IN = 6.4, 2.6
PALETTE = [
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#9333ea",
    "#ea580c",
    "#0891b2",
    "#4b5563",
    "#db2777",
    "#65a30d",
    "#ca8a04",
]
STYLE: Any = {
    "svg.fonttype": "none",
    "svg.hashsalt": "flask-bench",
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#9ca3af",
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 1.3,
    "axes.prop_cycle": cycler(color=PALETTE),
}

_counter = itertools.count(1)


def label(text: Any, limit: int = 0) -> str:
    """A run-supplied string made safe for matplotlib (no mathtext from '$'), maybe shortened."""
    text = str(text)
    if limit and len(text) > limit:
        text = text[: limit - 1] + "…"
    return str(text).replace("$", r"\$")


def _svg(fig: Any, tight: bool = False) -> str:
    """SVG text of ``fig``; fixed margins unless ``tight`` (a tight bbox costs a second draw)."""
    if not tight:
        legend = any(ax.get_legend() is not None for ax in fig.axes)
        height = fig.get_figheight()
        fig.subplots_adjust(
            left=0.75 / WIDTH_IN,
            right=0.66 if legend else 0.97,
            bottom=0.5 / height,
            top=1 - 0.32 / height,
        )
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight" if tight else None, metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    prefix = f"c{next(_counter)}-"
    text = re.sub(r'\bid="', f'id="{prefix}', text)
    text = text.replace("url(#", f"url(#{prefix}").replace('href="#', f'href="#{prefix}')
    # drop the fixed size: CSS scales the chart to its container
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)
    return text.replace("<svg", '<svg class="chart" role="img"', 1)


def _figure(nrows: int = 1, height: float = HEIGHT_IN) -> tuple[Any, Any]:
    with plt.rc_context(STYLE):
        return plt.subplots(nrows, 1, figsize=(WIDTH_IN, height * nrows), squeeze=False)


def binned(
    frame: pd.DataFrame,
    mean_cols: Sequence[str],
    max_cols: Sequence[str] = (),
    max_points: int = MAX_POINTS,
) -> tuple[pd.DataFrame, int]:
    """At most ``max_points`` rows: means for rates, maxima for latency percentiles."""
    frame = frame.sort_values("t")
    if len(frame) <= max_points:
        return frame, 1
    width = math.ceil(len(frame) / max_points)
    key = (frame["t"] // width) * width
    agg = {c: "mean" for c in mean_cols if c in frame} | {c: "max" for c in max_cols if c in frame}
    out = frame.groupby(key).agg(agg).reset_index().rename(columns={"index": "t"})
    out["t"] = out.iloc[:, 0]
    return out, width


def _legend(ax: Any, n: int) -> None:
    if n > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))


def line_chart(
    series: dict[str, pd.DataFrame],
    column: str,
    title: str,
    ylabel: str,
    aggregate: str = "mean",
    ylim0: bool = True,
) -> str:
    """One line per label of ``column`` against ``t`` (seconds)."""
    with plt.rc_context(STYLE):
        fig, axes = _figure()
        ax = axes[0][0]
        width = 1
        for name, frame in series.items():
            if frame.empty or column not in frame:
                continue
            data = frame[["t", column]].dropna()
            cols = ([column], []) if aggregate == "mean" else ([], [column])
            data, width = binned(data, *cols)
            ax.plot(data["t"], data[column], label=label(name, LEGEND_CHARS))
        note = f" ({width} s bins, {aggregate})" if width > 1 else ""
        ax.set_title(label(title) + note)
        ax.set_xlabel("seconds since start")
        ax.set_ylabel(ylabel)
        if ylim0:
            ax.set_ylim(bottom=0)
        _legend(ax, len(series))
        return _svg(fig)


def percentiles_chart(
    frame: pd.DataFrame,
    title: str,
    steady: tuple[float, float] | None,
    columns: Iterable[str] = ("p50", "p90", "p99"),
) -> str:
    with plt.rc_context(STYLE):
        fig, axes = _figure()
        ax = axes[0][0]
        cols = [c for c in columns if c in frame]
        data, width = binned(frame[["t", *cols]], [], cols)
        for col in cols:
            ax.plot(data["t"], data[col], label=col)
        if steady:
            ax.axvspan(*steady, color="#10b981", alpha=0.07, lw=0, label="steady state")
        note = f" ({width} s bins, max)" if width > 1 else ""
        ax.set_title(label(title) + note)
        ax.set_xlabel("seconds since start")
        ax.set_ylabel("latency (ms)")
        ax.set_ylim(bottom=0)
        _legend(ax, 2)
        return _svg(fig)


def _percentile_axis(ax: Any, highest: float) -> None:
    ax.set_xscale("log")
    ticks = [q for q in (0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 99.999, 99.9999) if q <= highest]
    ax.xaxis.set_major_locator(FixedLocator([1 / (1 - q / 100) for q in ticks]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * (1 - 1 / x):g}%"))
    ax.set_xlabel("percentile")


def spectrum_chart(
    lines: dict[str, list[tuple[float, float]]], title: str, dashed: Iterable[str] = ()
) -> str:
    """Latency by percentile, x = 1 / (1 - q) on a log scale (HdrHistogram style)."""
    dashed = set(dashed)
    with plt.rc_context(STYLE):
        fig, axes = _figure(height=3.0)
        ax = axes[0][0]
        highest = 0.0
        for name, points in lines.items():
            if not points:
                continue
            xs = [1 / (1 - q / 100) for q, _ in points]
            ax.plot(
                xs,
                [v for _, v in points],
                label=label(name, LEGEND_CHARS),
                linestyle="--" if name in dashed else "-",
            )
            highest = max(highest, points[-1][0])
        _percentile_axis(ax, highest)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("latency (ms, log)")
        ax.set_title(label(title))
        _legend(ax, len(lines))
        return _svg(fig)


def knee_chart(points: dict[str, pd.DataFrame], levels: dict[str, pd.DataFrame], title: str) -> str:
    """Latency against throughput: per-second points and per-load-level medians."""
    with plt.rc_context(STYLE):
        fig, axes = _figure(height=3.0)
        ax = axes[0][0]
        for (name, frame), color in zip(points.items(), PALETTE, strict=False):
            frame = frame.dropna(subset=["rps", "p99"])
            if len(frame) > MAX_POINTS:
                frame = frame.sample(MAX_POINTS, random_state=0)
            ax.scatter(frame["rps"], frame["p99"], s=6, alpha=0.35, color=color, lw=0)
            level = levels.get(name)
            if level is not None and not level.empty:
                ax.plot(
                    level["rps"],
                    level["p99"],
                    marker="o",
                    ms=3,
                    color=color,
                    label=f"{label(name, LEGEND_CHARS - 4)} p99" if len(points) > 1 else "p99",
                )
                ax.plot(
                    level["rps"],
                    level["p50"],
                    marker=".",
                    ms=3,
                    color=color,
                    ls=":",
                    label=f"{label(name, LEGEND_CHARS - 4)} p50" if len(points) > 1 else "p50",
                )
        ax.set_xlabel("throughput (requests/s)")
        ax.set_ylabel("latency (ms)")
        ax.set_ylim(bottom=0)
        ax.set_title(label(title))
        _legend(ax, 2)
        return _svg(fig)


def cpu_chart(frame: pd.DataFrame, title: str) -> str:
    with plt.rc_context(STYLE):
        fig, axes = _figure()
        ax = axes[0][0]
        cols = [
            c
            for c in ("server_cpu_pct", "generator_cpu_pct", "generator_cpu_max_pct")
            if c in frame
        ]
        data, width = binned(frame[["t", *cols]], cols)
        names = {
            "server_cpu_pct": "server (sum)",
            "generator_cpu_pct": "generator (sum)",
            "generator_cpu_max_pct": "generator (busiest process)",
        }
        for col in cols:
            ax.plot(
                data["t"],
                data[col],
                label=names[col],
                ls=":" if col == "generator_cpu_max_pct" else "-",
            )
        ax.axhline(90, color="#f59e0b", lw=0.8, ls="--", label="90% of a core")
        note = f" ({width} s bins)" if width > 1 else ""
        ax.set_title(label(title) + note)
        ax.set_xlabel("seconds since start")
        ax.set_ylabel("% of one core")
        ax.set_ylim(bottom=0)
        _legend(ax, 2)
        return _svg(fig)


def bars_chart(frame: pd.DataFrame, title: str, xlabel: str) -> str:
    """Horizontal grouped bars: index = groups (endpoints), columns = series (targets)."""
    with plt.rc_context(STYLE):
        n_groups, n_series = frame.shape
        fig, axes = _figure(height=max(1.6, 0.28 * n_groups * max(1, n_series) * 0.6 + 0.8))
        ax = axes[0][0]
        height = 0.8 / max(1, n_series)
        for i, col in enumerate(frame.columns):
            ys = [g + i * height for g in range(n_groups)]
            ax.barh(ys, frame[col].fillna(0).to_numpy(), height=height * 0.95, label=label(col))
        ax.set_yticks([g + 0.4 - height / 2 for g in range(n_groups)])
        ax.set_yticklabels([label(i) for i in frame.index])
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(xlabel)
        ax.set_title(label(title))
        _legend(ax, n_series)
        return _svg(fig, tight=True)


def repetitions_chart(changes: dict[str, Any]) -> str:
    """Per-repetition figures, baseline vs candidate, one panel per metric: the evidence."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(changes), figsize=(5.0, 1.9), squeeze=False)
        for ax, (metric, c) in zip(axes[0], changes.items(), strict=False):
            for x, values, color in (
                (0, c.baseline_values, PALETTE[0]),
                (1, c.candidate_values, PALETTE[1]),
            ):
                ax.scatter([x] * len(values), values, s=14, color=color, alpha=0.8, lw=0)
            ax.set_xticks([0, 1])
            ax.set_xticklabels(["A", "B"])
            ax.set_xlim(-0.6, 1.6)
            ax.set_title(f"{metric} ({'req/s' if metric == 'rps' else 'ms'})", fontsize=9)
            ax.grid(axis="x", visible=False)
        return _svg(fig, tight=True)


def ladder_chart(rows: list[dict[str, Any]], title: str) -> str:
    """p99 (corrected) against offered rate, one line per cell; SLO line; knees marked."""
    with plt.rc_context(STYLE):
        return _ladder(rows, title)


def _ladder(rows: list[dict[str, Any]], title: str) -> str:
    fig, axes = _figure()
    ax = axes[0][0]
    slo = None
    for i, row in enumerate(rows):
        cap = row["capacity"]
        slo = cap["slo"]["p99_ms"]
        steps = sorted(
            (s for s in cap["steps"] if s["rate"] > 0 and s["p99"]), key=lambda s: s["rate"]
        )
        color = PALETTE[i % len(PALETTE)]
        ax.plot(
            [s["rate"] for s in steps],
            [s["p99"] for s in steps],
            "-o",
            ms=3,
            color=color,
            label=label(row["cell_id"], LEGEND_CHARS),
        )
        if cap.get("rate"):
            ax.axvline(cap["rate"], color=color, ls=":", lw=1)
    if slo:
        ax.axhline(slo, color="#c0392b", ls="--", lw=1, label=f"SLO p99 {slo:g} ms")
    ax.set_yscale("log")
    ax.set_xlabel("offered rate (req/s)")
    ax.set_ylabel("p99 ms (corrected)")
    ax.set_title(label(title))
    _legend(ax, len(rows) + 1)
    return _svg(fig)
