"""Compare runs: the first is the baseline, every other run a candidate.

Cells are matched by target, server and scenario (by cell id when that is not
unique; in an ``ab`` run folder by server and scenario, beside the ``side`` label),
endpoints by name. Per endpoint, every metric of ``METRICS`` (goodput, latency
percentiles, CPU per request: ``cpu``, the endpoint's request-thread CPU mean from
Server-Timing, and for all endpoints the server processes' CPU per request served)
and the error share get one of three verdicts: improved / regressed, same, or
undecided with its reason. ``--fail-on`` thresholds
(``reports.gate``) turn the comparison into a CI gate with exit codes 0, 1, 3.

The two sides of one interleaved folder (``ab``: both sides' rows, labelled ``side``,
measured in pairs that share a ``repetition``) are judged pair by pair with an
always-valid interval (``reports.sequential``): drift between pairs cancels, and the
interval stays valid however often ``ab`` looks. Two separate runs have no pairs: their
per-repetition figures are compared unpaired (``reports.stats``), and the comparison
says so (``Comparison.tests``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from reports.attribution import function_changes
from reports.breakdown import regression_part
from reports.caveats import cpu_missing, environment_warnings, row_reasons
from reports.comparison import (
    CPU,
    METRIC,
    METRICS,
    REGRESSED,
    UNDECIDED,
    Change,
    Comparison,
    ComparisonRow,
    Finding,
    Threshold,
    cell_key,
    endpoint_label,
    split_sides,
)
from reports.gate import fails, family_size, family_text, gated_metrics, gated_rows, parse_fail_on
from reports.sequential import ALPHA, compare_pairs
from reports.stats import ERROR_RISE_PP, compare_errors, compare_values
from runfolder.errors import ConfigError
from runfolder.figures import ALL
from runfolder.reader import Run, load_run


def _per_rep(rows: list[dict[str, Any]], endpoint: str, metric: str) -> list[float | None]:
    figure = METRIC[metric].figure
    return [figure(e, row) for row in rows if (e := row["endpoints"].get(endpoint))]


def _pairs(
    b_rows: list[dict[str, Any]], c_rows: list[dict[str, Any]], endpoint: str, metric: str
) -> list[tuple[float | None, float | None]]:
    """(baseline, candidate) figures of the repetitions both sides measured, in order."""
    figure = METRIC[metric].figure
    cand = {r.get("repetition"): r for r in c_rows}
    out = []
    for b in sorted(b_rows, key=lambda r: int(r.get("repetition") or 0)):
        c = cand.get(b.get("repetition"))
        eb = b["endpoints"].get(endpoint)
        ec = c["endpoints"].get(endpoint) if c else None
        if eb and ec and c:
            out.append((figure(eb, b), figure(ec, c)))
    return out


def unmeasured(c: Change) -> bool:
    """No figure on either side: CPU the server cannot measure (gevent ...) is not gated."""
    return c.metric == CPU and not c.n_baseline and not c.n_candidate


UNPAIRED_TEST = (
    "unpaired: Mann-Whitney U and Kolmogorov-Smirnov over per-repetition figures "
    "(bootstrap interval of the ratio of medians)"
)
PAIRED_TEST = (
    "paired: the mean log ratio of interleaved pairs, with an always-valid "
    "(t-mixture) confidence sequence"
)


def _orders(base: Run) -> str:
    """How often each side went first (``order`` AB / BA): randomized, they should mix."""
    counts: dict[str, int] = {}
    for r in base.rows:
        if r.get("order"):
            counts[str(r["order"])] = counts.get(str(r["order"]), 0) + 1
    return f" (order {', '.join(f'{k} {n}x' for k, n in sorted(counts.items()))})" if counts else ""


def pairing(base: Run, cand: Run) -> str | None:
    """Why ``base`` and ``cand`` cannot be judged pair by pair, or None when they can.

    They pair when they are the two sides of one interleaved folder: every baseline row
    labelled ``side`` baseline, every candidate row candidate, from one folder (same
    path, or the same metadata for rows handed over in memory), with pair indices
    (``repetition``) that both sides share.
    """
    b_sides = {r.get("side") for r in base.rows}
    c_sides = {r.get("side") for r in cand.rows}
    if b_sides != {"baseline"} or c_sides != {"candidate"}:
        return "two separate runs cannot be paired"
    if base.path != cand.path and base.meta != cand.meta:
        return "the sides of two different 'ab' folders cannot be paired"
    b_reps = {r.get("repetition") for r in base.rows}
    c_reps = {r.get("repetition") for r in cand.rows}
    if None in b_reps | c_reps or not b_reps & c_reps:
        return "the rows carry no shared pair index (repetition) to pair by"
    return None


def _errors(rows: list[dict[str, Any]], endpoint: str) -> tuple[int, int]:
    requests = failed = 0
    for row in rows:
        e = row["endpoints"].get(endpoint)
        if e:
            requests += int(e.get("requests", 0))
            failed += sum(int(v) for v in (e.get("failures") or {}).values())
    return failed, requests


def compare_cells(
    b_rows: list[dict[str, Any]],
    c_rows: list[dict[str, Any]],
    endpoint: str,
    thresholds: list[Threshold],
    paired: bool = False,
    family: int = 1,
) -> dict[str, Change]:
    """Every metric of one endpoint of a matched cell, pair by pair when ``paired``, each
    paired interval at ``ALPHA / family`` (Bonferroni over the gate's paired verdicts)."""
    gated = gated_metrics(thresholds)
    changes = {}
    for metric in METRICS:
        m = metric.name
        reasons = row_reasons(b_rows, "baseline", endpoint, m, paired)
        reasons += row_reasons(c_rows, "candidate", endpoint, m, paired)
        if m == CPU:
            reasons += cpu_missing(b_rows, "baseline", endpoint)
            reasons += cpu_missing(c_rows, "candidate", endpoint)
        t = gated.get(m)
        threshold = t.value if t else metric.threshold
        why = list(dict.fromkeys(reasons))
        if paired:
            changes[m] = compare_pairs(
                m,
                _pairs(b_rows, c_rows, endpoint, m),
                threshold,
                why,
                metric.higher_is_better,
                alpha=ALPHA / family,
            )
        else:
            changes[m] = compare_values(
                m,
                _per_rep(b_rows, endpoint, m),
                _per_rep(c_rows, endpoint, m),
                threshold,
                why,
                metric.higher_is_better,
            )
    fa, ra = _errors(b_rows, endpoint)
    fb, rb = _errors(c_rows, endpoint)
    reasons = row_reasons(b_rows, "baseline", endpoint, "errors")
    reasons += row_reasons(c_rows, "candidate", endpoint, "errors")
    changes["errors"] = compare_errors(fa, ra, fb, rb, ERROR_RISE_PP, list(dict.fromkeys(reasons)))
    return changes


class _Matched(NamedTuple):
    """A candidate's cell matched to the baseline's, with what comparing them needs."""

    cand: Run
    why_not: str | None  # why its rows cannot be paired; None: paired
    key: tuple[str, ...]
    b_rows: list[Any]
    c_rows: list[Any]
    endpoints: list[str]  # ALL first, then every endpoint of either side


def compare_loaded(
    base: Run,
    cands: list[Run],
    thresholds: list[Threshold],
    unpaired: bool = False,
    gate_endpoints: tuple[str, ...] = (),
) -> Comparison:
    """Compare loaded runs; "no cell of the candidate matches the baseline" is bad input.

    Pairs are used wherever ``pairing`` finds them, unless ``unpaired`` (to measure what
    the pairing gains on the same rows). ``gate_endpoints``: the endpoints the gate judges
    (``ALL``: every endpoint merged; empty: every endpoint and ``ALL``); an endpoint no
    row has is bad input.
    """
    warnings: list[str] = []
    for run in [base, *cands]:
        warnings += [f"{run.name}: {w}" for w in run.warnings]
    for cand in cands:
        warnings += environment_warnings(base, cand)
    base_keys = cell_key(base)
    base_by_key = {k: cid for cid, k in base_keys.items()}
    rows: list[ComparisonRow] = []
    tests: dict[str, str] = {}
    matched: list[_Matched] = []
    for cand in cands:
        cand_keys = cell_key(cand)
        found = 0
        why_not = "unpaired was asked for" if unpaired else pairing(base, cand)
        tests[cand.name] = f"{UNPAIRED_TEST}: {why_not}" if why_not else PAIRED_TEST + _orders(base)
        for cid, key in cand_keys.items():
            bid = base_by_key.get(key)
            if bid is None:
                warnings.append(f"{cand.name}: cell {cid} has no match in {base.name}")
                continue
            found += 1
            b_rows, c_rows = base.cell_rows(bid), cand.cell_rows(cid)
            b_eps = {n for r in b_rows for n in r["endpoints"]}
            c_eps = {n for r in c_rows for n in r["endpoints"]}
            for only, where in ((b_eps - c_eps, cand.name), (c_eps - b_eps, base.name)):
                if only:
                    warnings.append(f"{cid}: {', '.join(sorted(only))} missing in {where}")
            # every endpoint of either side, ALL at least: a missing value is undecided, not
            # skipped (a side without any steady-state figures must not pass the gate)
            endpoints = sorted(b_eps | c_eps | {ALL}, key=lambda n: (n != ALL, n))
            matched.append(_Matched(cand, why_not, key, b_rows, c_rows, endpoints))
        missing = set(base_keys.values()) - set(cand_keys.values())
        for key in sorted(missing):
            warnings.append(f"{cand.name}: no cell matches {' · '.join(key)} of {base.name}")
        if not found:
            raise ConfigError(
                f"no cell of the candidate {cand.name} matches the baseline {base.name} "
                "(cells match by target, server and scenario): compare runs of the same cells"
            )
    paired = [m.endpoints for m in matched if not m.why_not]
    family = family_size(paired, thresholds, gate_endpoints)
    for cand in cands:
        if tests[cand.name].startswith(PAIRED_TEST):
            tests[cand.name] += family_text(family)
    for cand, why_not, key, b_rows, c_rows, endpoints in matched:
        first = c_rows[0]
        for endpoint in endpoints:
            changes = compare_cells(
                b_rows, c_rows, endpoint, thresholds, paired=not why_not, family=family
            )
            rows.append(
                ComparisonRow(
                    candidate=cand.name,
                    cell=" · ".join(key),
                    target=str(first.get("target")),
                    server=str(first.get("server")),
                    scenario=str(first.get("scenario")),
                    endpoint=endpoint,
                    changes=changes,
                    grew=regression_part(
                        b_rows, c_rows, endpoint, {m: c.verdict for m, c in changes.items()}
                    ),
                )
            )
    if CPU in gated_metrics(thresholds):
        for r in rows:
            c = r.changes[CPU]
            if unmeasured(c):
                warnings.append(
                    f"{r.cell} {endpoint_label(r.endpoint)}: {gated_metrics(thresholds)[CPU]} not "
                    f"judged, neither side has a CPU figure ({c.why()})"
                )
    gated = gated_rows(rows, gate_endpoints)
    violations, undecided = judge(gated, thresholds)
    return Comparison(
        base,
        cands,
        rows,
        thresholds,
        violations,
        undecided,
        list(dict.fromkeys(warnings)),
        tests,
        gate_endpoints=gate_endpoints,
    )


def judge(
    rows: list[ComparisonRow], thresholds: list[Threshold]
) -> tuple[list[Finding], list[Finding]]:
    """Gated metrics that fail, and those left undecided (with the reason)."""
    if not thresholds:
        return [], []
    gated = gated_metrics(thresholds)
    caps = [t for t in thresholds if t.sign == ">"]
    violations, undecided = [], []
    for r in rows:
        where = (r.candidate, r.cell, endpoint_label(r.endpoint))
        for metric, t in gated.items():
            c = r.changes[metric]
            if unmeasured(c):
                continue  # said in the warnings (compare_loaded)
            if fails(t, c.verdict, c.change_pct):
                violations.append(Finding(*where, metric, str(t), _observed(c)))
            elif c.verdict == UNDECIDED:
                undecided.append(
                    Finding(*where, metric, str(t), f"undecided: {c.why()}", c.reasons)
                )
        e = r.changes["errors"]
        rule = f"errors:+{ERROR_RISE_PP:g}pp"
        if e.verdict == REGRESSED:
            violations.append(Finding(*where, "errors", rule, _observed(e)))
        elif e.verdict == UNDECIDED:
            undecided.append(Finding(*where, "errors", rule, f"undecided: {e.why()}", e.reasons))
        for t in caps:
            if r.error_pct_candidate > t.value:
                violations.append(
                    Finding(*where, "errors", str(t), f"error share {r.error_pct_candidate:.3f}%")
                )
    return violations, undecided


def _observed(c: Change) -> str:
    unit = "pp" if c.metric == "errors" else "%"
    ci = f" [{c.ci_low:+.1f}, {c.ci_high:+.1f}]" if c.ci_low is not None else ""
    p = f", p={c.p_value:.2g}" if c.p_value is not None else ""
    return f"{c.verdict} {c.change_pct:+.1f}{unit}{ci}{p} ({c.test_text})"


def compare_runs(
    run_dirs: list[Path],
    fail_on: str | None = None,
    force: bool = False,
    gate_endpoints: tuple[str, ...] = (),
) -> Comparison:
    """Compare stored runs (first = baseline); ``reports.render`` shows the result.

    One ``ab`` run folder alone compares its baseline side with its candidate side.
    """
    thresholds = parse_fail_on(fail_on)
    runs = [load_run(Path(p)) for p in run_dirs]
    if len(runs) == 1 and any(r.get("side") for r in runs[0].rows):
        runs = list(split_sides(runs[0]))
    if len(runs) < 2:
        raise ConfigError(
            "compare needs at least two runs: BASELINE CANDIDATE [...] (or one 'ab' run folder)"
        )
    base, cands = runs[0], runs[1:]
    profiled_warnings = []
    for cand in cands:
        if cand.profiled != base.profiled:
            prof, plain = (cand, base) if cand.profiled else (base, cand)
            msg = (
                f"{prof.name} was profiled and {plain.name} was not: profiling slows "
                "requests, so the figures are not comparable"
            )
            if not force:
                raise ConfigError(msg + "; pass --force to compare anyway")
            profiled_warnings.append(msg + " (compared anyway: --force)")
    comparison = compare_loaded(base, cands, thresholds, gate_endpoints=gate_endpoints)
    comparison.warnings[:0] = profiled_warnings
    attach_profile_diffs(comparison)
    return comparison


def attach_profile_diffs(comparison: Comparison) -> None:
    """Regression attribution when both sides were profiled (derived: never blocks)."""
    base = comparison.baseline
    for cand in comparison.candidates:
        if base.profiled and cand.profiled:
            try:
                comparison.profile_diffs[cand.name] = function_changes(base, cand)
            except Exception as exc:  # derived data: never block the comparison
                comparison.warnings.append(f"{cand.name}: profile diff failed ({exc})")
