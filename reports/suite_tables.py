"""The default suite's two tables, built once: what each technique buys, and the headline.

``python bench.py`` prints them in the terminal and the HTML report opens with them; both
read the ``studies`` and ``headline`` sections of ``summary.json`` through these
functions, so the two outputs cannot drift apart. A table is plain data (title, columns,
rows of text); ``render_terminal`` draws it with rich, ``frame`` hands it to pandas for
the HTML table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class TextTable:
    """Rows of already formatted cells; ``right`` names the columns aligned right."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    right: frozenset[str] = frozenset()


ANSWER_COLUMNS = (
    "technique",
    "workload",
    "baseline",
    "variant",
    "req/s at saturation",
    "ratio (95% CI)",
    "pairs",
    "CPU per request",
    "p99 at common rate",
    "SLO",
    "answer",
)


def rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def ms(value: float | None, thin: bool = False) -> str:
    """A latency in ms, ``thin (…)`` when it rests on fewer than 10 samples above it."""
    if value is None:
        return "–"
    return f"thin ({value:.1f} ms)" if thin else f"{value:.1f} ms"


def cpu_ms(value: float | None) -> str:
    """CPU ms per request, to two decimals below 10 ms (cached endpoints are fast)."""
    if value is None:
        return "–"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def ratio_text(study: dict[str, Any]) -> str:
    ci = study.get("ci")
    if study.get("ratio") is None or not ci:
        return "–"
    return f"{study['ratio']:.2f}× ({ci[0]:.2f}–{ci[1]:.2f})"


def common_text(common: dict[str, Any] | None) -> str:
    """Both sides' p99 at the one rate below both saturations; ✗ marks a side over the SLO."""
    if not common or common.get("base_p99") is None:
        return "–"

    def side(name: str) -> str:
        over = common.get(f"{name}_within_slo") is False
        return ms(common.get(f"{name}_p99"), bool(common.get(f"{name}_thin"))) + (
            " ✗" if over else ""
        )

    return f"{side('base')} → {side('variant')} at {common['rate']:.0f}/s"


def answers_table(section: dict[str, Any]) -> TextTable:
    """What each technique buys: one line per study, the answer last."""
    plan = section.get("plan", {})
    kind = "thorough" if plan.get("thorough") else "quick"
    title = (
        f"What each technique buys (throughput at saturation, variant / baseline over "
        f"pairs of segments measured together, sharing the server CPU; {kind} suite)"
    )
    rows: list[tuple[str, ...]] = []
    for st in section.get("studies", []):
        base, var = st["baseline"], st["variant"]
        rows.append(
            (
                st["technique"] + (" (noise floor)" if st.get("control") else ""),
                st["workload"],
                f"{base['target']} · {base['server']}",
                f"{var['target']} · {var['server']}",
                f"{rate(base.get('throughput'))} → {rate(var.get('throughput'))}",
                ratio_text(st),
                str(st.get("pairs", 0)),
                f"{cpu_ms(base.get('cpu_ms'))} → {cpu_ms(var.get('cpu_ms'))}",
                common_text(st.get("common")),
                st["slo"]["text"],
                st["answer"],
            )
        )
    return TextTable(title, ANSWER_COLUMNS, rows, frozenset({"pairs"}))


HEADLINE_COLUMNS = ("endpoint", "req/s", "p50", "p99", "errors", "top functions (per request)")


def headline_table(headline: dict[str, Any]) -> TextTable:
    """The browse journey: its slowest steps first, with where their time goes."""
    title = (
        f"Headline: the browse journey ({headline['target']} · {headline['server']}, "
        f"{headline['users']} users, closed model)"
    )
    rows: list[tuple[str, ...]] = []
    for ep in headline.get("endpoints", []):
        thin = ep.get("thin", [])
        spots = ", ".join(f"{h['function']} {h['self_ms']:.1f} ms" for h in ep.get("hotspots", []))
        rows.append(
            (
                ep["endpoint"],
                f"{ep['rps']:,.1f}",
                ms(ep.get("p50"), "p50" in thin),
                ms(ep.get("p99"), "p99" in thin),
                f"{ep.get('error_pct') or 0.0:.2f}%",
                spots or "–",
            )
        )
    return TextTable(title, HEADLINE_COLUMNS, rows, frozenset({"req/s", "p50", "p99", "errors"}))


def frame(tab: TextTable) -> pd.DataFrame:
    """The table for the HTML report (``reports.html.table`` escapes every cell); pandas
    is imported here, so that printing the tables (and ``bench.py --help``) does not."""
    import pandas as pd

    return pd.DataFrame(tab.rows, columns=list(tab.columns))


def render_terminal(tab: TextTable, console: Any) -> None:
    """The table on a rich console."""
    from rich.table import Table

    table = Table(title=tab.title, title_justify="left")
    for col in tab.columns:
        table.add_column(col, justify="right" if col in tab.right else "left")
    for row in tab.rows:
        table.add_row(*row)
    console.print(table)
