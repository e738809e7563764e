"""A comparison as GitHub-flavoured Markdown: a CI job summary or a pull-request comment."""

from __future__ import annotations

from reports.comparison import SHOWN, Comparison, endpoint_label
from reports.render.text import METHOD, change_text, tests_lines, verdict_text


def markdown(cmp: Comparison, allow_undecided: bool = False) -> str:
    """The verdict table as GitHub-flavoured Markdown."""
    code = cmp.exit_code(allow_undecided)
    status = {0: "passed", 1: "FAILED: regression", 3: "UNDECIDED"}.get(code, str(code))
    lines = [
        f"## flask-bench: {cmp.baseline.name} → " + ", ".join(c.name for c in cmp.candidates),
        "",
    ]
    if cmp.thresholds:
        lines += [f"**Gate** `{cmp.gate_text}`: **{status}**", ""]
    lines += ["| cell | endpoint | " + " | ".join(SHOWN) + " |", "|---|---|" + "---|" * len(SHOWN)]
    for r in cmp.rows:
        cells = [
            f"{change_text(c)} **{verdict_text(c)}** <sub>{c.test_text}</sub>"
            for c in (r.changes[m] for m in SHOWN)
        ]
        lines.append(f"| {r.cell} | {endpoint_label(r.endpoint)} | " + " | ".join(cells) + " |")
    lines += ["", *(f"*Test* {line}" for line in tests_lines(cmp))]
    grew = [f"- {endpoint_label(r.endpoint)} ({r.cell}): {r.grew}" for r in cmp.rows if r.grew]
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
