"""A comparison as a self-contained HTML page: the verdict tables and the evidence charts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from reports import charts
from reports.comparison import METRICS, SHOWN, Comparison, ComparisonRow, endpoint_label
from reports.html import render, svg, table
from reports.render.text import METHOD, UNITS, change_text, verdict_text
from runfolder.errors import RunFolderError
from runfolder.figures import ALL


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
                "endpoint": endpoint_label(r.endpoint),
                "test": r.changes[METRICS[0].name].test_text,
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
                "verdicts": ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
                + (f" · test {cmp.tests[cand.name]}" if cand.name in cmp.tests else ""),
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
        "gate_on": [endpoint_label(e) for e in cmp.gate_endpoints],
        "violations": [str(v) for v in cmp.violations],
        "undecided": [str(v) for v in cmp.undecided],
        "method": METHOD,
    }
