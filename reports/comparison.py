"""What a comparison is, beneath the arithmetic that fills it and the outputs that show it.

The data of ``compare`` and ``ab``: the compared metrics (``METRICS``, the one list: a new
metric is one entry and the function that reads its figure from a summary row), verdict
names, a metric's ``Change`` (baseline, candidate, interval, verdict and which test gave
it), the gate's ``Threshold`` and ``Finding``, and ``Comparison`` with its rows. The
statistics (``reports.stats`` unpaired, ``reports.sequential`` paired) and the gate
(``reports.gate``) compute into these; the renderers (``reports.render``) only read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runfolder.errors import ConfigError
from runfolder.figures import ALL
from runfolder.reader import Run

MIN_REPS = 3


MIN_PAIRS = 3  # paired (reports.sequential): no verdict on fewer pairs


IMPROVED = "improved"


REGRESSED = "regressed"


SAME = "same"


UNDECIDED = "undecided"


DIFFERENT = (IMPROVED, REGRESSED)


UNPAIRED, PAIRED, FISHER = "unpaired", "paired", "fisher"
"""Which test decided a ``Change``: per-repetition figures unpaired (MWU + K-S, bootstrap),
pairs of interleaved segments (``reports.sequential``), or pooled requests (errors)."""


@dataclass(frozen=True)
class Change:
    """Baseline and candidate figures (medians over repetitions), the change and its verdict.

    ``change_pct`` and its interval are percent of the baseline, except for ``errors``,
    where they are percentage points of the error share.
    """

    metric: str
    baseline: float | None
    candidate: float | None
    change_pct: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_baseline: int
    n_candidate: int
    threshold: float
    verdict: str
    reasons: tuple[str, ...] = ()
    baseline_values: tuple[float, ...] = field(default=())
    candidate_values: tuple[float, ...] = field(default=())
    test: str = UNPAIRED
    higher_is_better: bool = False

    @property
    def worse(self) -> bool:
        """The candidate is worse in this metric (ignoring significance)."""
        if self.change_pct is None:
            return False
        return self.change_pct < 0 if self.higher_is_better else self.change_pct > 0

    @property
    def test_text(self) -> str:
        """Which test decided, on how much data: ``paired, 12 pairs``."""
        if self.test == PAIRED:
            return f"paired, {self.n_baseline} pairs"
        if self.test == FISHER:
            return "Fisher, pooled requests"
        return f"unpaired, {self.n_baseline} vs {self.n_candidate} reps"

    @property
    def decided(self) -> bool:
        return self.verdict != UNDECIDED

    def why(self) -> str:
        """Why the verdict is undecided, in one phrase."""
        if self.reasons:
            return "; ".join(self.reasons)
        if self.test == PAIRED:
            if self.n_baseline < MIN_PAIRS:
                return f"{self.n_baseline} paired repetition(s), {MIN_PAIRS} needed"
            return "the interval holds 0 and reaches past the threshold: more pairs needed"
        if min(self.n_baseline, self.n_candidate) < MIN_REPS:
            return f"{min(self.n_baseline, self.n_candidate)} repetition(s), {MIN_REPS} needed"
        return "the interval straddles the threshold: more repetitions needed"


@dataclass(frozen=True)
class Threshold:
    metric: str  # a metric of reports.compare.METRICS, or errors
    sign: str  # "+", "-" (relative) or ">" (errors, absolute)
    value: float  # percent

    def __str__(self) -> str:
        return (
            f"{self.metric}:{self.sign}{self.value:g}%"
            if self.sign != ">"
            else (f"{self.metric}:>{self.value:g}%")
        )


EXIT_PASSED, EXIT_REGRESSED, EXIT_UNDECIDED = 0, 1, 3


@dataclass(frozen=True)
class Finding:
    """A gated metric of one endpoint that fails the gate or could not be decided."""

    candidate: str
    cell: str
    endpoint: str
    metric: str
    gate: str  # the threshold, e.g. "p99:+10%", or "errors:+0.1pp" (the implicit rise rule)
    observed: str
    reasons: tuple[str, ...] = ()  # an undecided metric's flags from the measurement itself

    def __str__(self) -> str:
        return f"{self.gate} {self.candidate} {self.cell} {self.endpoint}: {self.observed}"


def exit_code(violations: list[Finding], undecided: list[Finding], allow_undecided: bool) -> int:
    """0 all same or improved; 1 a regression; 3 undecided on a gated metric."""
    if violations:
        return EXIT_REGRESSED
    if undecided and not allow_undecided:
        return EXIT_UNDECIDED
    return EXIT_PASSED


Figure = Callable[[dict[str, Any], dict[str, Any]], float | None]
"""One metric's figure from an endpoint's entry of a row and the row itself."""


@dataclass(frozen=True)
class Metric:
    """A compared, gateable figure per endpoint and row (repetition or segment)."""

    name: str
    unit: str
    higher_is_better: bool
    threshold: float  # the default practical threshold, percent of the baseline
    figure: Figure
    shown: bool = False  # a column of the verdict tables


def goodput(entry: dict[str, Any], row: dict[str, Any]) -> float | None:
    """Successful responses per second: failed requests are not throughput."""
    requests = int(entry.get("requests", 0))
    failed = sum(int(v) for v in (entry.get("failures") or {}).values())
    seconds = row.get("steady_seconds")
    if seconds:
        return (requests - failed) / float(seconds)
    rps = entry.get("rps")
    return None if rps is None else float(rps) * (1 - failed / requests if requests else 1)


def cpu_per_request(entry: dict[str, Any], row: dict[str, Any]) -> float | None:
    """ms of CPU per request: an endpoint's request-thread mean (Server-Timing ``cpu``); for
    all endpoints the server processes' CPU per request served, which gevent and async
    views do not hide."""
    if entry is (row.get("endpoints") or {}).get(ALL):
        value = row.get("server_cpu_ms_per_request")
    else:
        value = (entry.get("cpu_ms") or {}).get("mean")
    return None if value is None else float(value)


def latency(q: str) -> Figure:
    """The figure of latency percentile ``q`` (ms)."""

    def figure(entry: dict[str, Any], row: dict[str, Any]) -> float | None:
        value = (entry.get("latency_ms") or {}).get(q)
        return None if value is None else float(value)

    return figure


METRICS = (
    Metric("rps", "req/s", True, 5.0, goodput, shown=True),
    Metric("p50", "ms", False, 5.0, latency("p50"), shown=True),
    Metric("p90", "ms", False, 10.0, latency("p90")),
    Metric("p99", "ms", False, 10.0, latency("p99"), shown=True),
    Metric("p99.9", "ms", False, 10.0, latency("p99.9")),
    Metric("cpu", "ms/req", False, 5.0, cpu_per_request, shown=True),
)
"""Every compared metric, in table order: a new metric is one line here (its figure
function beside it); the gate, the statistics and the outputs read it from here."""


METRIC = {m.name: m for m in METRICS}


SHOWN = (*(m.name for m in METRICS if m.shown), "errors")


CPU = "cpu"


SIDES = ("baseline", "candidate")


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
    grew: str | None = None  # a regression: the part of the request that grew

    @property
    def error_pct_baseline(self) -> float:
        return float(self.changes["errors"].baseline or 0.0)

    @property
    def error_pct_candidate(self) -> float:
        return float(self.changes["errors"].candidate or 0.0)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "candidate": self.candidate,
            "cell": self.cell,
            "endpoint": self.endpoint,
            "grew": self.grew,
        }
        for metric, c in self.changes.items():
            out[metric] = {
                "baseline": c.baseline,
                "candidate": c.candidate,
                "change": c.change_pct,
                "ci": [c.ci_low, c.ci_high],
                "p": c.p_value,
                "threshold": c.threshold,
                "reps": [c.n_baseline, c.n_candidate],
                "test": c.test,
                "verdict": c.verdict,
                "reasons": list(c.reasons) if c.verdict != UNDECIDED or c.reasons else [c.why()],
            }
        return out


@dataclass
class Comparison:
    baseline: Run
    candidates: list[Run]
    rows: list[ComparisonRow]
    thresholds: list[Threshold]
    violations: list[Finding]
    undecided: list[Finding]
    warnings: list[str]
    tests: dict[str, str] = field(default_factory=dict)  # candidate -> which test, and why
    profile_diffs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    html_path: Path | None = None
    gate_endpoints: tuple[str, ...] = ()  # the endpoints gated (ALL: merged); (): every one

    @property
    def gate_text(self) -> str:
        """The gate in words: its thresholds and, when not every endpoint, which."""
        text = ",".join(map(str, self.thresholds))
        if self.gate_endpoints:
            text += " on " + ", ".join(endpoint_label(e) for e in self.gate_endpoints)
        return text

    @property
    def failed(self) -> bool:
        return bool(self.violations)

    def exit_code(self, allow_undecided: bool = False) -> int:
        """The gate's exit code: 0 pass, 1 regression, 3 undecided on a gated metric."""
        if not self.thresholds:
            return 0
        return exit_code(self.violations, self.undecided, allow_undecided)


class SideRun(Run):
    """One side (baseline or candidate) of an ``ab`` run folder, as a run of its own."""

    side: str = ""

    @property
    def name(self) -> str:
        return f"{self.path.name} {self.side}"


def split_sides(run: Run) -> tuple[Run, Run]:
    """The baseline and candidate rows of an ``ab`` run folder as two runs."""
    sides = []
    for side in SIDES:
        part = SideRun(
            path=run.path,
            meta=run.meta,
            rows=[r for r in run.rows if r.get("side") == side],
            hotspots=run.hotspots,
            warnings=list(run.warnings),
        )
        part.side = side
        if not part.rows:
            raise ConfigError(f"{run.path} has no {side} rows: is it an 'ab' run folder?")
        sides.append(part)
    return sides[0], sides[1]


def cell_key(run: Run) -> dict[str, tuple[str, ...]]:
    """cell_id -> matching key: (target, server, scenario), or (cell_id,) if not unique."""
    firsts = {cid: run.cell_rows(cid)[0] for cid in run.cell_ids()}
    triples = {  # an ab side's targets may differ (sync vs cached): matched without them
        cid: tuple(
            str(r.get(k))
            for k in (("server", "scenario") if r.get("side") else ("target", "server", "scenario"))
        )
        for cid, r in firsts.items()
    }
    counts: dict[tuple[str, ...], int] = {}
    for t in triples.values():
        counts[t] = counts.get(t, 0) + 1
    return {
        cid: (t if counts[t] == 1 else (_unsided(cid, firsts[cid]),)) for cid, t in triples.items()
    }


def _unsided(cell_id: str, row: dict[str, Any]) -> str:
    side = str(row.get("side") or "")
    return cell_id.removesuffix(f"-{side}") if side else cell_id


def figure(row: dict[str, Any], endpoint: str, metric: str) -> float | None:
    """One summary row's figure of ``metric`` for ``endpoint`` (None: it has none)."""
    entry = row["endpoints"].get(endpoint)
    return None if entry is None else METRIC[metric].figure(entry, row)


def endpoint_label(endpoint: str) -> str:
    return "all endpoints" if endpoint == ALL else endpoint
