"""Compare runs: the first is the baseline, every other run a candidate.

Cells are matched by target, server and scenario (by cell id when that is not
unique), endpoints by name. Per endpoint, throughput and latency percentiles are
compared over repetitions (``reports.stats``): improved / regressed / no
significant change / unconfirmed (a single repetition). ``--fail-on`` thresholds
(``reports.gate``) turn the comparison into a CI gate.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from reports import charts
from reports.breakdown import regression_part
from reports.gate import Threshold, parse_fail_on
from reports.html import ms, num, render, svg, table
from reports.stats import (
    ALPHA,
    ALPHA_MWU,
    IMPROVED,
    MWU_MIN_REPS,
    NO_CHANGE,
    REGRESSED,
    THRESHOLDS,
    UNCONFIRMED,
    Change,
    compare_values,
)
from runfolder.errors import ConfigError, RunFolderError
from runfolder.figures import ALL
from runfolder.reader import Run, load_run

METRICS = ("rps", "p50", "p90", "p99", "p99.9")
SHOWN = ("rps", "p50", "p99")
MACHINE_KEYS = ("hostname", "cpu_model", "cpus", "memory_gb", "os")
CONFIG_IGNORED = {"name", "out", "repeat"}
TOP_FUNCTIONS = 10


@dataclass
class ComparisonRow:
    """One endpoint of one matched cell: baseline vs one candidate."""

    candidate: str
    cell: str
    target: str
    server: str
    scenario: str
    endpoint: str
    changes: dict[str, Change]
    error_pct_baseline: float
    error_pct_candidate: float
    grew: str | None = None  # a regression: the part of the request that grew

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "candidate": self.candidate,
            "grew": self.grew,
            "cell": self.cell,
            "endpoint": self.endpoint,
            "error_pct_baseline": self.error_pct_baseline,
            "error_pct_candidate": self.error_pct_candidate,
        }
        for metric, c in self.changes.items():
            out[f"{metric}_baseline"] = c.baseline
            out[f"{metric}_candidate"] = c.candidate
            out[f"{metric}_change_pct"] = c.change_pct
            out[f"{metric}_p"] = c.p_value
            out[f"{metric}_verdict"] = c.verdict
        return out


@dataclass(frozen=True)
class Violation:
    candidate: str
    cell: str
    endpoint: str
    threshold: Threshold
    observed: str

    def __str__(self) -> str:
        return f"{self.threshold} crossed by {self.candidate} {self.cell} {self.endpoint}: " + (
            self.observed
        )


@dataclass
class Comparison:
    baseline: Run
    candidates: list[Run]
    rows: list[ComparisonRow]
    thresholds: list[Threshold]
    violations: list[Violation]
    warnings: list[str]
    profile_diffs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    html_path: Path | None = None

    @property
    def failed(self) -> bool:
        return bool(self.violations)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.as_dict() for r in self.rows])

    def render_terminal(self, console: Any) -> None:
        """A rich table per candidate, the warnings and the gate's verdict."""
        from rich.table import Table
        from rich.text import Text

        styles = {IMPROVED: "green", REGRESSED: "bold red", UNCONFIRMED: "yellow"}
        short = {NO_CHANGE: "no sig. change"}
        for cand in self.candidates:
            rows = [r for r in self.rows if r.candidate == cand.name]
            cells = list(dict.fromkeys(r.cell for r in rows))
            title = f"{self.baseline.name} → {cand.name}"
            if len(cells) == 1:
                title += f"  ({cells[0]})"
            t = Table(title=title, title_justify="left")
            if len(cells) > 1:
                t.add_column("cell")
            t.add_column("endpoint")
            for metric in SHOWN:
                t.add_column(f"{metric} {'req/s' if metric == 'rps' else 'ms'}", justify="right")
            t.add_column("errors %", justify="right")
            for r in rows:
                values = []
                for metric in SHOWN:
                    c = r.changes[metric]
                    text = Text(_change_text(c, compact=True))
                    text.append(
                        f"\n{short.get(c.verdict, c.verdict)}", style=styles.get(c.verdict, "dim")
                    )
                    values.append(text)
                first = [Text(r.cell)] if len(cells) > 1 else []
                errors = f"{r.error_pct_baseline:.2f}→{r.error_pct_candidate:.2f}"
                t.add_row(*first, Text(_endpoint(r.endpoint)), *values, errors)
            console.print(t)
            for r in rows:
                if r.grew:
                    console.print(Text(f"{_endpoint(r.endpoint)} regressed: {r.grew}", style="red"))
        for w in self.warnings:
            console.print(Text(f"warning: {w}", style="yellow"))
        if self.thresholds:
            if self.violations:
                console.print(Text("Gate FAILED:", style="bold red"))
                for v in self.violations:
                    console.print(Text(f"  {v}", style="red"))
            else:
                spec = ", ".join(str(t) for t in self.thresholds)
                console.print(Text(f"Gate passed ({spec})", style="green"))


def _endpoint(name: str) -> str:
    return "all endpoints" if name == ALL else name


def _change_text(c: Change, compact: bool = False) -> str:
    if c.baseline is None or c.candidate is None:
        return "–"
    fmt = num if c.metric == "rps" else ms
    if compact:
        change = f" {c.change_pct:+.1f}%" if c.change_pct is not None else ""
        return f"{fmt(c.candidate)}{change}"
    change = f" ({c.change_pct:+.1f}%)" if c.change_pct is not None else ""
    return f"{fmt(c.baseline)} → {fmt(c.candidate)}{change}"


def _cell_key(run: Run) -> dict[str, tuple[str, ...]]:
    """cell_id -> matching key: (target, server, scenario), or (cell_id,) if not unique."""
    firsts = {cid: run.cell_rows(cid)[0] for cid in run.cell_ids()}
    triples = {
        cid: tuple(str(r.get(k)) for k in ("target", "server", "scenario"))
        for cid, r in firsts.items()
    }
    counts: dict[tuple[str, ...], int] = {}
    for t in triples.values():
        counts[t] = counts.get(t, 0) + 1
    return {cid: (t if counts[t] == 1 else (cid,)) for cid, t in triples.items()}


def _per_rep(rows: list[dict[str, Any]], endpoint: str, metric: str) -> list[float | None]:
    out = []
    for row in rows:
        e = row["endpoints"].get(endpoint)
        if not e:
            continue
        out.append(e.get("rps") if metric == "rps" else (e.get("latency_ms") or {}).get(metric))
    return out


def _error_pct(rows: list[dict[str, Any]], endpoint: str) -> float:
    requests = failed = 0
    for row in rows:
        e = row["endpoints"].get(endpoint)
        if e:
            requests += int(e.get("requests", 0))
            failed += sum(int(v) for v in (e.get("failures") or {}).values())
    return 100 * failed / requests if requests else 0.0


def _diff_dicts(a: dict[str, Any], b: dict[str, Any], ignore: Collection[str] = ()) -> list[str]:
    keys = sorted((set(a) | set(b)) - set(ignore))
    return [f"{k} {a.get(k)!r} → {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]


def environment_warnings(base: Run, cand: Run) -> list[str]:
    out = []
    ma, mb = base.meta.get("machine") or {}, cand.meta.get("machine") or {}
    diff = [d for d in _diff_dicts(ma, mb) if d.split(" ", 1)[0] in MACHINE_KEYS]
    if diff:
        out.append(f"{cand.name} ran on a different machine: {'; '.join(diff)}")
    if base.meta.get("python") != cand.meta.get("python"):
        out.append(f"{cand.name}: Python {base.meta.get('python')} → {cand.meta.get('python')}")
    diff = _diff_dicts(base.meta.get("packages") or {}, cand.meta.get("packages") or {})
    if diff:
        out.append(f"{cand.name}: package versions differ: {'; '.join(diff)}")
    diff = _diff_dicts(base.meta.get("config") or {}, cand.meta.get("config") or {}, CONFIG_IGNORED)
    if diff:
        out.append(f"{cand.name}: configuration differs: {'; '.join(diff)}")
    if (base.meta.get("pinning") or {}) != (cand.meta.get("pinning") or {}):
        out.append(f"{cand.name}: CPU pinning differs")
    return out


def profile_diff(base: Run, cand: Run) -> list[dict[str, Any]]:
    """Functions whose ms per request changed most (profiles.diff when it exists)."""
    try:
        from profiles.diff import diff_hotspots
    except ImportError:
        return _hotspot_diff(base.hotspots or {}, cand.hotspots or {})
    return list(diff_hotspots(base.path, cand.path))


def _hotspot_diff(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Fallback from the two hotspots.json files: total ms per request per function."""

    def index(data: dict[str, Any]) -> dict[tuple[str, str, str], float]:
        out: dict[tuple[str, str, str], float] = {}
        for cid, cell in (data.get("cells") or {}).items():
            for endpoint, e in ((cell or {}).get("endpoints") or {}).items():
                for h in (e or {}).get("hotspots") or []:
                    where = f"{h.get('function')} ({h.get('file')}:{h.get('line')})"
                    out[(cid, endpoint, where)] = float(h.get("total_ms") or 0.0)
        return out

    ia, ib = index(a), index(b)
    rows = []
    for key in sorted(set(ia) | set(ib)):
        ms_a, ms_b = ia.get(key), ib.get(key)
        change = (ms_b or 0.0) - (ms_a or 0.0)
        rows.append(
            {
                "cell": key[0],
                "endpoint": key[1],
                "function": key[2],
                "ms_per_request_a": ms_a,
                "ms_per_request_b": ms_b,
                "change_ms": round(change, 3),
            }
        )
    rows.sort(key=lambda r: -abs(float(r["change_ms"] or 0)))
    return rows


def _gate(
    rows: list[ComparisonRow], thresholds: list[Threshold]
) -> tuple[list[Violation], list[str]]:
    violations, notes = [], []
    unconfirmed: set[str] = set()
    for r in rows:
        for t in thresholds:
            if t.metric == "errors":
                if r.error_pct_candidate > t.value:
                    violations.append(
                        Violation(
                            r.candidate,
                            r.cell,
                            _endpoint(r.endpoint),
                            t,
                            f"error rate {r.error_pct_candidate:.3f}%",
                        )
                    )
                continue
            c = r.changes[t.metric]
            if c.change_pct is None:
                continue
            crossed = c.change_pct >= t.value if t.sign == "+" else c.change_pct <= -t.value
            if not crossed:
                continue
            if c.verdict == UNCONFIRMED:
                unconfirmed.add(f"{t} ({r.candidate} {r.cell} {_endpoint(r.endpoint)})")
            elif c.significant:
                violations.append(
                    Violation(
                        r.candidate,
                        r.cell,
                        _endpoint(r.endpoint),
                        t,
                        f"{_change_text(c)}, p={c.p_value:.2g}",
                    )
                )
    if unconfirmed:
        notes.append(
            "gate not applied to single-repetition changes (run with --repeat 5 to "
            "confirm): " + "; ".join(sorted(unconfirmed))
        )
    return violations, notes


def _out_path(out_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        path = out_dir / (f"compare-{stamp}.html" if n == 1 else f"compare-{stamp}-{n}.html")
        if not path.exists():
            return path
    raise RunFolderError(f"cannot find a free file name for the comparison in {out_dir}")


def compare_runs(
    run_dirs: list[Path], out_dir: Path, fail_on: str | None = None, force: bool = False
) -> Comparison:
    """Compare runs (first = baseline), write the comparison HTML into ``out_dir``."""
    thresholds = parse_fail_on(fail_on)
    if len(run_dirs) < 2:
        raise ConfigError("compare needs at least two runs: BASELINE CANDIDATE [...]")
    runs = [load_run(Path(p)) for p in run_dirs]
    base, cands = runs[0], runs[1:]
    warnings: list[str] = []
    for run in runs:
        warnings += [f"{run.name}: {w}" for w in run.warnings]
    for cand in cands:
        if cand.profiled != base.profiled:
            prof, plain = (cand, base) if cand.profiled else (base, cand)
            msg = (
                f"{prof.name} was profiled and {plain.name} was not: profiling slows "
                "requests, so the figures are not comparable"
            )
            if not force:
                raise ConfigError(msg + "; pass --force to compare anyway")
            warnings.append(msg + " (compared anyway: --force)")
        warnings += environment_warnings(base, cand)
    base_keys = _cell_key(base)
    base_by_key = {k: cid for cid, k in base_keys.items()}
    rows: list[ComparisonRow] = []
    diffs: dict[str, list[dict[str, Any]]] = {}
    for cand in cands:
        cand_keys = _cell_key(cand)
        matched = 0
        for cid, key in cand_keys.items():
            bid = base_by_key.get(key)
            if bid is None:
                warnings.append(f"{cand.name}: cell {cid} has no match in {base.name}")
                continue
            matched += 1
            b_rows, c_rows = base.cell_rows(bid), cand.cell_rows(cid)
            b_eps = {n for r in b_rows for n in r["endpoints"]}
            c_eps = {n for r in c_rows for n in r["endpoints"]}
            for only, where in ((b_eps - c_eps, cand.name), (c_eps - b_eps, base.name)):
                if only:
                    warnings.append(f"{cid}: {', '.join(sorted(only))} missing in {where}")
            common = sorted(b_eps & c_eps, key=lambda n: (n == ALL, n))
            first = c_rows[0]
            for endpoint in common:
                changes = {
                    m: compare_values(
                        m, _per_rep(b_rows, endpoint, m), _per_rep(c_rows, endpoint, m)
                    )
                    for m in METRICS
                }
                rows.append(
                    ComparisonRow(
                        candidate=cand.name,
                        cell=" · ".join(key),
                        target=str(first.get("target")),
                        server=str(first.get("server")),
                        scenario=str(first.get("scenario")),
                        endpoint=endpoint,
                        changes=changes,
                        error_pct_baseline=_error_pct(b_rows, endpoint),
                        error_pct_candidate=_error_pct(c_rows, endpoint),
                        grew=regression_part(
                            b_rows, c_rows, endpoint, {m: c.verdict for m, c in changes.items()}
                        ),
                    )
                )
        missing = set(base_keys.values()) - set(cand_keys.values())
        for key in sorted(missing):
            warnings.append(f"{cand.name}: no cell matches {' · '.join(key)} of {base.name}")
        if not matched:
            warnings.append(f"{cand.name} shares no cell with {base.name}: nothing to compare")
        if base.profiled and cand.profiled:
            try:
                diffs[cand.name] = profile_diff(base, cand)
            except Exception as exc:  # derived data: never block the comparison
                warnings.append(f"{cand.name}: profile diff failed ({exc})")
    if any(len(base.cell_rows(c)) < 2 for c in base.cell_ids()) or any(
        len(c.cell_rows(x)) < 2 for c in cands for x in c.cell_ids()
    ):
        warnings.append(
            "some cells have a single repetition: their changes are unconfirmed; "
            "run with --repeat 5 for a verdict"
        )
    violations, notes = _gate(rows, thresholds)
    warnings += notes
    comparison = Comparison(
        base, cands, rows, thresholds, violations, list(dict.fromkeys(warnings)), diffs
    )
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = _out_path(out_dir)
        path.write_text(render("compare.html.j2", **_context(comparison)), encoding="utf-8")
    except OSError as exc:
        raise RunFolderError(f"--out: cannot write into {out_dir}: {exc.strerror}") from None
    comparison.html_path = path
    return comparison


# HTML -------------------------------------------------------------------------------


def _verdict_cell(c: Change) -> str:
    p = f", p={c.p_value:.2g}" if c.p_value is not None else ""
    return f"{_change_text(c)} · {c.verdict}{p}"


def _context(cmp: Comparison) -> dict[str, Any]:
    sections = []
    for cand in cmp.candidates:
        rows = [r for r in cmp.rows if r.candidate == cand.name]
        frame = pd.DataFrame(
            [
                {
                    "cell": r.cell,
                    "endpoint": _endpoint(r.endpoint),
                    "reps": f"{r.changes['rps'].n_baseline} / {r.changes['rps'].n_candidate}",
                    **{
                        f"{m} ({'req/s' if m == 'rps' else 'ms'})": _verdict_cell(r.changes[m])
                        for m in SHOWN
                    },
                    "errors %": f"{r.error_pct_baseline:.2f} → {r.error_pct_candidate:.2f}",
                    "part that grew": r.grew or "",
                }
                for r in rows
            ]
        )
        if not frame.empty:
            frame = frame.set_index(["cell", "endpoint"])
        evidence = [
            {
                "title": f"{r.cell}, all endpoints: A = baseline, B = {cand.name}",
                "svg": svg(charts.repetitions_chart({m: r.changes[m] for m in SHOWN})),
            }
            for r in rows
            if r.endpoint == ALL
        ]
        diff_table = None
        diff = cmp.profile_diffs.get(cand.name)
        if diff:
            diff_table = table(_profile_frame(diff))
        sections.append(
            {
                "candidate": cand.name,
                "table": table(frame, css="data wrap", index=True),
                "charts": evidence,
                "profile_diff": diff_table,
                "verdicts": _verdict_counts(rows),
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
        "method": {
            "alpha": ALPHA,
            "alpha_mwu": ALPHA_MWU,
            "mwu_min": MWU_MIN_REPS,
            "thresholds": json.dumps(THRESHOLDS),
        },
    }


def _verdict_counts(rows: list[ComparisonRow]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        for m in SHOWN:
            counts[r.changes[m].verdict] = counts.get(r.changes[m].verdict, 0) + 1
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))


PROFILE_COLUMNS = {  # profiles.diff keys (and the fallback's) -> shown names
    "cell_id": "cell",
    "cell": "cell",
    "endpoint": "endpoint",
    "function": "function",
    "file": "file",
    "ms_a": "ms/req A",
    "ms_per_request_a": "ms/req A",
    "ms_b": "ms/req B",
    "ms_per_request_b": "ms/req B",
    "change_ms": "change ms",
    "change_pct": "change %",
}


def _profile_frame(diff: list[dict[str, Any]]) -> pd.DataFrame:
    """The functions whose ms per request changed most (largest absolute change first)."""
    rows = sorted(diff, key=lambda r: -abs(float(r.get("change_ms") or 0.0)))[: TOP_FUNCTIONS * 2]
    frame = pd.DataFrame(rows)
    keep = [c for c in PROFILE_COLUMNS if c in frame.columns]
    frame = frame[keep].rename(columns=PROFILE_COLUMNS) if keep else frame
    return frame.loc[:, ~frame.columns.duplicated()]
