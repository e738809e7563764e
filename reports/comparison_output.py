"""A comparison as the terminal table, HTML page, Markdown (CI job summary, PR comment) and JSON.

Every format carries the same verdict table: per cell and endpoint, baseline → candidate,
the change with its interval and one of improved / regressed / same / undecided, then
the gate's findings and, when both sides were profiled, the suspect functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from reports import charts
from reports.compare import SHOWN, Comparison, ComparisonRow, _label
from reports.html import ms, num, render, svg, table
from reports.stats import ALPHA, CONFIDENCE, ERROR_RISE_PP, MIN_REPS, THRESHOLDS, Change
from runfolder import storage
from runfolder.errors import RunFolderError
from runfolder.figures import ALL

STYLES = {"improved": "green", "regressed": "bold red", "undecided": "yellow", "same": "dim"}
UNITS = {"rps": "req/s", "errors": "%", "cpu": "ms/req"}

METHOD = (
    f"Per metric, one figure per repetition (goodput: successful responses per second). "
    f"*different* (improved/regressed): min(p) of Mann-Whitney U and Kolmogorov-Smirnov "
    f"<= {ALPHA} and the change of the median beyond the threshold; *same*: the "
    f"{CONFIDENCE:.0%} bootstrap interval of the ratio of medians inside ± the threshold "
    f"(default {THRESHOLDS}); *undecided*: neither, fewer than {MIN_REPS} repetitions, or "
    "a generator-bound row, dropped open-model requests, failed verify or a thin percentile. "
    f"Errors: the pooled error share, a rise beyond {ERROR_RISE_PP}pp with Fisher's exact "
    f"p <= {ALPHA} regresses."
)


def _fmt(c: Change, value: float | None) -> str:
    if value is None:
        return "–"
    if c.metric == "errors":
        return f"{value:.2f}%"
    return num(value) if c.metric == "rps" else ms(value)


def change_text(c: Change) -> str:
    """``base → cand (+x% [lo, hi])``."""
    unit = "pp" if c.metric == "errors" else "%"
    if c.change_pct is None:
        return f"{_fmt(c, c.baseline)} → {_fmt(c, c.candidate)}"
    ci = f" [{c.ci_low:+.1f}, {c.ci_high:+.1f}]" if c.ci_low is not None else ""
    return f"{_fmt(c, c.baseline)} → {_fmt(c, c.candidate)} ({c.change_pct:+.1f}{unit}{ci})"


def verdict_text(c: Change) -> str:
    return c.verdict + (f" ({c.why()})" if c.verdict == "undecided" else "")


def render_terminal(cmp: Comparison, console: Any) -> None:
    """A rich table per candidate, the warnings and the gate's findings."""
    from rich.table import Table
    from rich.text import Text

    for cand in cmp.candidates:
        rows = [r for r in cmp.rows if r.candidate == cand.name]
        t = Table(title=f"{cmp.baseline.name} → {cand.name}", title_justify="left")
        for col in ("cell", "endpoint"):
            t.add_column(col)
        for metric in SHOWN:
            t.add_column(f"{metric} {UNITS.get(metric, 'ms')}", justify="right")
        for r in rows:
            values = []
            for metric in SHOWN:
                c = r.changes[metric]
                text = Text(change_text(c))
                text.append(f"\n{c.verdict}", style=STYLES.get(c.verdict, "dim"))
                values.append(text)
            t.add_row(Text(r.cell), Text(_label(r.endpoint)), *values)
        console.print(t)
        for r in rows:
            if r.grew:
                console.print(Text(f"{_label(r.endpoint)} regressed: {r.grew}", style="red"))
    for w in cmp.warnings:
        console.print(Text(f"warning: {w}", style="yellow"))
    for title, style, items in (
        ("Regressions (gate failed):", "bold red", cmp.violations),
        ("Undecided gated metrics:", "yellow", cmp.undecided),
    ):
        if items:
            console.print(Text(title, style=style))
            for f in items[:40]:
                console.print(Text(f"  {f}", style=style))
            if len(items) > 40:
                console.print(Text(f"  … and {len(items) - 40} more", style=style))
    if cmp.thresholds and not cmp.violations and not cmp.undecided:
        console.print(Text("Gate passed: " + ", ".join(map(str, cmp.thresholds)), style="green"))


def markdown(cmp: Comparison, allow_undecided: bool = False) -> str:
    """The verdict table as GitHub-flavoured Markdown."""
    code = cmp.exit_code(allow_undecided)
    status = {0: "passed", 1: "FAILED: regression", 3: "UNDECIDED"}.get(code, str(code))
    lines = [
        f"## flask-bench: {cmp.baseline.name} → " + ", ".join(c.name for c in cmp.candidates),
        "",
    ]
    if cmp.thresholds:
        lines += [f"**Gate** `{','.join(map(str, cmp.thresholds))}`: **{status}**", ""]
    lines += ["| cell | endpoint | " + " | ".join(SHOWN) + " |", "|---|---|" + "---|" * len(SHOWN)]
    for r in cmp.rows:
        cells = [f"{change_text(r.changes[m])} **{verdict_text(r.changes[m])}**" for m in SHOWN]
        lines.append(f"| {r.cell} | {_label(r.endpoint)} | " + " | ".join(cells) + " |")
    grew = [f"- {_label(r.endpoint)} ({r.cell}): {r.grew}" for r in cmp.rows if r.grew]
    if grew:
        lines += ["", "**The part of the request that grew**", "", *grew]
    for title, items in (("Regressions", cmp.violations), ("Undecided", cmp.undecided)):
        if items:
            lines += ["", f"**{title}**", ""] + [f"- {f}" for f in items]
    diffs = [d for rows in cmp.profile_diffs.values() for d in rows[:10]]
    if diffs:
        lines += [
            "",
            "**Functions whose time per request changed most**",
            "",
            "| endpoint | function | ms/req A → B | change ms [interval] |",
            "|---|---|---|---|",
        ]
        for d in diffs:
            ci = (
                f" [{d['ci_low_ms']:+.3f}, {d['ci_high_ms']:+.3f}]"
                if d.get("ci_low_ms") is not None
                else ""
            )
            lines.append(
                f"| {d['endpoint']} | `{d['function']}` ({d['file']}) | "
                f"{d['ms_a']:.3f} → {d['ms_b']:.3f} | {d['change_ms']:+.3f}{ci} |"
            )
    if cmp.warnings:
        lines += ["", "<details><summary>Warnings</summary>", ""]
        lines += [f"- {w}" for w in cmp.warnings] + ["", "</details>"]
    lines += ["", f"<sub>{METHOD}</sub>", ""]
    return "\n".join(lines)


def as_json(cmp: Comparison, allow_undecided: bool = False) -> dict[str, Any]:
    return {
        "baseline": cmp.baseline.name,
        "candidates": [c.name for c in cmp.candidates],
        "gate": [str(t) for t in cmp.thresholds],
        "exit_code": cmp.exit_code(allow_undecided),
        "rows": [r.as_dict() for r in cmp.rows],
        "regressions": [vars(f) for f in cmp.violations],
        "undecided": [vars(f) for f in cmp.undecided],
        "functions": cmp.profile_diffs,
        "warnings": cmp.warnings,
        "method": METHOD,
    }


def write_outputs(
    cmp: Comparison,
    markdown_path: Path | None,
    json_path: Path | None,
    allow_undecided: bool = False,
) -> None:
    try:
        if markdown_path is not None:
            storage.write_atomic(markdown_path, markdown(cmp, allow_undecided))
        if json_path is not None:
            storage.write_json(json_path, as_json(cmp, allow_undecided))
    except OSError as exc:
        raise RunFolderError(f"cannot write the comparison: {exc}") from None


# HTML -------------------------------------------------------------------------------


def _out_path(out_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        path = out_dir / (f"compare-{stamp}.html" if n == 1 else f"compare-{stamp}-{n}.html")
        if not path.exists():
            return path
    raise RunFolderError(f"cannot find a free file name for the comparison in {out_dir}")


def write_html(cmp: Comparison, out_dir: Path, path: Path | None = None) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = path or _out_path(out_dir)
        path.write_text(render("compare.html.j2", **_context(cmp)), encoding="utf-8")
    except OSError as exc:
        raise RunFolderError(f"--out: cannot write into {out_dir}: {exc.strerror}") from None
    return path


def _frame(rows: list[ComparisonRow]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "cell": r.cell,
                "endpoint": _label(r.endpoint),
                "reps": f"{r.changes['rps'].n_baseline} / {r.changes['rps'].n_candidate}",
                **{
                    f"{m} ({UNITS.get(m, 'ms')})": f"{change_text(r.changes[m])} · "
                    f"{verdict_text(r.changes[m])}"
                    for m in SHOWN
                },
                "part that grew": r.grew or "",
            }
            for r in rows
        ]
    )
    return frame.set_index(["cell", "endpoint"]) if not frame.empty else frame


def _context(cmp: Comparison) -> dict[str, Any]:
    sections = []
    for cand in cmp.candidates:
        rows = [r for r in cmp.rows if r.candidate == cand.name]
        evidence = [
            {
                "title": f"{r.cell}, all endpoints: A = baseline, B = {cand.name}",
                "svg": svg(charts.repetitions_chart({m: r.changes[m] for m in SHOWN[:3]})),
            }
            for r in rows
            if r.endpoint == ALL
        ]
        diff = cmp.profile_diffs.get(cand.name)
        counts: dict[str, int] = {}
        for r in rows:
            for m in SHOWN:
                counts[r.changes[m].verdict] = counts.get(r.changes[m].verdict, 0) + 1
        sections.append(
            {
                "candidate": cand.name,
                "table": table(_frame(rows), css="data wrap", index=True),
                "charts": evidence,
                "profile_diff": table(pd.DataFrame(diff)) if diff else None,
                "verdicts": ", ".join(f"{n} {v}" for v, n in sorted(counts.items())),
            }
        )
    return {
        "title": f"Comparison: {cmp.baseline.name} vs " + ", ".join(c.name for c in cmp.candidates),
        "baseline": cmp.baseline.name,
        "runs": [
            {
                "name": r.name,
                "status": r.status,
                "created": r.meta.get("created"),
                "commit": str((r.meta.get("git") or {}).get("commit") or "?")[:12],
                "profiled": r.profiled,
                "reps": max((len(r.cell_rows(c)) for c in r.cell_ids()), default=0),
            }
            for r in [cmp.baseline, *cmp.candidates]
        ],
        "warnings": cmp.warnings,
        "sections": sections,
        "thresholds": [str(t) for t in cmp.thresholds],
        "violations": [str(v) for v in cmp.violations],
        "undecided": [str(v) for v in cmp.undecided],
        "method": METHOD,
    }
