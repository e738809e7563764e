"""A comparison in the terminal: a rich table per candidate, warnings, the gate's findings."""

from __future__ import annotations

from typing import Any

from reports.comparison import SHOWN, Comparison, endpoint_label
from reports.render.text import UNITS, change_text, tests_lines

STYLES = {"improved": "green", "regressed": "bold red", "undecided": "yellow", "same": "dim"}


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
                text.append(f" · {c.test_text}", style="dim")
                values.append(text)
            t.add_row(Text(r.cell), Text(endpoint_label(r.endpoint)), *values)
        console.print(t)
        for r in rows:
            if r.grew:
                console.print(
                    Text(f"{endpoint_label(r.endpoint)} regressed: {r.grew}", style="red")
                )
    for line in tests_lines(cmp):
        console.print(Text(f"test: {line}", style="dim"))
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
        console.print(Text("Gate passed: " + cmp.gate_text, style="green"))
