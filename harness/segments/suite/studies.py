"""Technique studies, the default suite: what caching, async views and servers buy.

Each study is a question with a baseline, a variant and the workload where the technique
matters. Both sides' servers start once (pinned to the server CPUs; the idle side costs
nothing) and one persistent Locust drives them, every step sent to one side's URL, the
sides taking turns (A B A B), so drift hits both alike:

1. a closed-model probe step (every connection busy) measures each side's saturated
   rate X, a hint of where the knee is (one noisy second of it is not a bound);
2. the capacity search (``harness/capacity.py``) on each side from 0.7 X (x 1.3 up while
   it passes, x 0.6 down while it fails, then bisection), interleaved, to a coarse
   bracket: C is where p99 crosses the SLO, interpolated log-linearly between the
   highest pass and the lowest failure;
3. the search's crossing is the first repetition; ``repetitions - 1`` more, interleaved,
   each measure afresh with two steps of their own: one at C, one 10% above (it passed)
   or below (it failed); the repetition's capacity is where p99 crosses the SLO between
   its two steps;
4. the ratio variant / baseline (geometric mean of the pairs), with a 95% t interval on
   the pairs' log ratios (``harness/estimates.py`` says why not a bootstrap);
5. one step per side at a common rate (0.7 x the smallest capacity), long enough for a
   p99 on 1,000 samples when the plan allows: p50 and p99 there, thin ones marked.

Studies on one workload and SLO that share a side run as one group (the A/A control
and caching share ``uncached``): every side of the group takes its turn, and the shared
side is measured once.

An A/A control (uncached against sync: the same app under two names) measures the
suite's own noise floor; its interval should contain 1.0.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from harness.config import RunConfig
from harness.run.cells import Cell
from harness.run.engine import Derive, Progress, RunOutcome
from harness.segments.capacity.search import Capacity, CapacitySearch, SearchPlan, Slo, Step, judge
from harness.segments.engine import Stepper
from harness.segments.sides import (
    RunFolder,
    Side,
    StepTimes,
    open_stepper,
    start_side,
    step_row,
)
from harness.segments.suite.estimates import (
    SAME_WITHIN,
    interpolate,
    ratio_interval,
    repetition_estimate,
    short_verdict,
)
from harness.stack.processes import Supervisor

SEARCH_START = 0.7  # the search starts at 0.7 x the saturated (closed-model) rate ...
DESCEND = 0.6  # ... steps down by 0.6 while even that fails ...
SEARCH_FACTOR = 1.3  # ... and up by 1.3 while it passes: a probe is a hint, not a bound
NON_THIN_SAMPLES = 1000  # p99 with 10 samples above it
INSTANCES_MIN_CPUS = 4
COMMON_SHARE = 0.7  # the common rate: 0.7 x the smaller capacity
# the share of requests profiled, for each study's "why" line: a profiled request costs
# several times an unprofiled one's CPU, so few are taken, to leave capacity as it is
PROFILE_RATE = 0.005
WHY_TOP = 3


@dataclass(frozen=True)
class Study:
    key: str
    technique: str
    question: str
    scenario: str
    workload: str  # what the scenario requests, in words
    baseline: tuple[str, str]  # (target, server)
    variant: tuple[str, str]
    control: bool = False
    thorough_only: bool = False
    instances: int = 1  # the variant's instances behind nginx
    slo: str = "p99:50ms,errors:0.1%"  # one SLO for both sides; upstream waits 60 ms in series
    # each side's database ("sqlite" / "postgres"; "": the run's --database) and connection
    # pool per worker (None: the run's --db-pool)
    databases: tuple[str, str] = ("", "")
    pools: tuple[int | None, int | None] = (None, None)

    def label(self, n: int) -> str:
        """Side ``n`` (0 baseline, 1 variant) in words, with its database and pool when the
        study sets them."""
        target, server = (self.baseline, self.variant)[n]
        db, pool = self.databases[n], self.pools[n]
        extra = [db] if db and self.databases[0] != self.databases[1] else []
        extra += [f"pool {pool}"] if pool else []
        return f"{target} on {server}" + (f" ({', '.join(extra)})" if extra else "")


GTHREAD = "gunicorn-gthread"
UPSTREAM_SLO = "p99:250ms,errors:0.1%"
UPSTREAM = "/upstream?calls=3&delay_ms=20"
POOL_SMALL = 2  # connections per worker, under the default 8 threads a worker
STUDIES: tuple[Study, ...] = (
    Study(
        "aa-control",
        "A/A control",
        "how far apart are two copies of the same app?",
        "queries",
        "/queries?queries=20",
        ("uncached", GTHREAD),
        ("sync", GTHREAD),
        control=True,
    ),
    Study(
        "caching-queries",
        "caching",
        "does caching help?",
        "queries",
        "/queries?queries=20",
        ("uncached", GTHREAD),
        ("cached", GTHREAD),
    ),
    Study(
        "async-upstream",
        "async views",
        "do async views help on upstream fan-out?",
        "upstream",
        "/upstream?calls=3&delay_ms=20",
        ("sync", GTHREAD),
        ("async", GTHREAD),
        slo=UPSTREAM_SLO,
    ),
    Study(
        "server-dev",
        "gunicorn over the dev server",
        "is gunicorn worth it over Werkzeug?",
        "db",
        "/db",
        ("sync", "werkzeug"),
        ("sync", GTHREAD),
        thorough_only=True,
    ),
    Study(
        "caching-fortunes",
        "caching",
        "does caching help a rendered page?",
        "fortunes",
        "/fortunes",
        ("uncached", GTHREAD),
        ("cached", GTHREAD),
        thorough_only=True,
    ),
    Study(
        "gevent-upstream",
        "gevent workers",
        "gevent or threads for upstream I/O?",
        "upstream",
        "/upstream?calls=3&delay_ms=20",
        ("sync", GTHREAD),
        ("sync", "gunicorn-gevent"),
        thorough_only=True,
        slo=UPSTREAM_SLO,
    ),
    Study(
        "sync-workers",
        "gthread over sync workers",
        "threads or plain sync workers?",
        "upstream",
        "/upstream?calls=3&delay_ms=20",
        ("sync", "gunicorn-sync"),
        ("sync", GTHREAD),
        thorough_only=True,
        slo=UPSTREAM_SLO,
    ),
    Study(
        "instances",
        "2 instances behind nginx",
        "do more instances help?",
        "db",
        "/db",
        ("sync", GTHREAD),
        ("sync", GTHREAD),
        thorough_only=True,
        instances=2,
    ),
    # production parts: the database server and the WSGI server
    Study(
        "postgres-db",
        "PostgreSQL over SQLite",
        "what does a database server cost on one query?",
        "db",
        "/db",
        ("sync", GTHREAD),
        ("sync", GTHREAD),
        thorough_only=True,
        databases=("sqlite", "postgres"),
    ),
    Study(
        "postgres-queries",
        "PostgreSQL over SQLite",
        "what does a database server cost on 20 queries a request?",
        "queries",
        "/queries?queries=20",
        ("sync", GTHREAD),
        ("sync", GTHREAD),
        thorough_only=True,
        databases=("sqlite", "postgres"),
    ),
    Study(
        "db-pool",
        "a pool as large as the threads",
        f"does a pool of {POOL_SMALL} connections hold 8 threads back?",
        "queries",
        "/queries?queries=20",
        ("sync", GTHREAD),
        ("sync", GTHREAD),
        thorough_only=True,
        databases=("postgres", "postgres"),
        pools=(POOL_SMALL, 8),
    ),
    Study(
        "server-granian-json",
        "granian over gunicorn gthread",
        "which server? granian",
        "json",
        "/json",
        ("sync", GTHREAD),
        ("sync", "granian"),
        thorough_only=True,
    ),
    Study(
        "server-uwsgi-json",
        "uWSGI over gunicorn gthread",
        "which server? uWSGI",
        "json",
        "/json",
        ("sync", GTHREAD),
        ("sync", "uwsgi"),
        thorough_only=True,
    ),
    Study(
        "server-granian-upstream",
        "granian over gunicorn gthread",
        "which server for upstream fan-out? granian",
        "upstream",
        UPSTREAM,
        ("sync", GTHREAD),
        ("sync", "granian"),
        thorough_only=True,
        slo=UPSTREAM_SLO,
    ),
    Study(
        "server-uwsgi-upstream",
        "uWSGI over gunicorn gthread",
        "which server for upstream fan-out? uWSGI",
        "upstream",
        UPSTREAM,
        ("sync", GTHREAD),
        ("sync", "uwsgi"),
        thorough_only=True,
        slo=UPSTREAM_SLO,
    ),
)


QUICK_STEPS = StepTimes(warmup=0.5, duration=2.0, confirm=2.0)  # warm-up: to the next second


@dataclass(frozen=True)
class SuitePlan:
    thorough: bool = False
    repetitions: int = 3
    times: StepTimes = QUICK_STEPS
    tolerance: float = 0.20  # the search only centres the repetitions
    common_max_s: float = 4.0  # the common-rate step's longest measured time
    headline: bool = True  # the browse journey and its hotspots (harness/headline.py)

    @classmethod
    def of(cls, thorough: bool) -> SuitePlan:
        if thorough:
            return cls(True, 5, StepTimes(1.0, 3.0, 3.0), 0.05, 12.0)
        return cls()


def chosen_studies(
    plan: SuitePlan, cpus: int | None = None, postgres: bool | None = None
) -> tuple[list[Study], list[str]]:
    """The studies to run and, for each left out, why (``postgres``: whether a PostgreSQL
    server can be had; None: whether the Debian package is installed)."""
    cpus = cpus if cpus is not None else (os.cpu_count() or 1)
    run, skipped = [], []
    for study in STUDIES:
        if study.thorough_only and not plan.thorough:
            continue
        if "postgres" in study.databases:
            if postgres is None:
                from harness.stack.postgres import installed

                postgres = installed()
            if not postgres:
                skipped.append(
                    f"{study.key}: skipped, PostgreSQL is not installed "
                    "(bash scripts/setup.sh --test, or apt-get install postgresql)"
                )
                continue
        if study.instances > 1 and cpus < INSTANCES_MIN_CPUS:
            skipped.append(
                f"{study.key}: skipped, instances behind nginx need >= "
                f"{INSTANCES_MIN_CPUS} CPUs to mean anything (this machine has "
                f"{cpus}: the instances would share one server core)"
            )
            continue
        run.append(study)
    return run, skipped


def verdict(
    study: Study,
    ratio: float | None,
    lo: float | None,
    hi: float | None,
    common: dict[str, Any] | None,
) -> str:
    if ratio is None or lo is None or hi is None:
        return "no ratio: a side has no capacity under the SLO (see its ladder)"
    if study.control:
        contains = "contains" if lo <= 1.0 <= hi else "does NOT contain"
        return (
            f"noise floor: {ratio:.2f}x ({lo:.2f}-{hi:.2f}), the interval {contains} 1.0; "
            "a study's difference inside this band is noise"
        )
    at = ""
    if common and common.get("base_p99") is not None and common.get("variant_p99") is not None:
        at = (
            f", p99 at {common['rate']:.0f} req/s {_thin_ms(common, 'base')} -> "
            f"{_thin_ms(common, 'variant')}"
        )
    span = f"({lo:.2f}-{hi:.2f})"
    if lo >= 1 - SAME_WITHIN and hi <= 1 + SAME_WITHIN:
        return f"no difference within ±{SAME_WITHIN:.0%} {span}{at}"
    if lo > 1.0:
        return f"{study.technique}: {ratio:.2f}x capacity on {study.workload} {span}{at}"
    if hi < 1.0:
        return f"{study.technique} costs: {ratio:.2f}x capacity on {study.workload} {span}{at}"
    return f"unclear: {ratio:.2f}x, the interval {span} spans 1.0{at}"


def _thin_ms(common: dict[str, Any], side: str) -> str:
    value = common[f"{side}_p99"]
    return f"thin ({value:.1f} ms)" if common.get(f"{side}_thin") else f"{value:.1f} ms"


SideKey = tuple[str, str, int, str, int | None]  # target, server, instances, database, pool


def side_keys(study: Study) -> tuple[SideKey, SideKey]:
    (db_a, db_b), (pool_a, pool_b) = study.databases, study.pools
    return (*study.baseline, 1, db_a, pool_a), (*study.variant, study.instances, db_b, pool_b)


def cell_key(cell: Cell) -> SideKey:
    return (cell.target, cell.server, cell.instances, cell.database, cell.db_pool)


def group_studies(studies: list[Study]) -> list[list[Study]]:
    """Studies on one workload and SLO that share a side run together: the shared side
    (the A/A control's and caching's ``uncached`` baseline) is measured once."""
    groups: list[list[Study]] = []
    for study in studies:
        for group in groups:
            first = group[0]
            keys = {k for g in group for k in side_keys(g)}
            if (first.scenario, first.slo) == (study.scenario, study.slo) and keys & set(
                side_keys(study)
            ):
                group.append(study)
                break
        else:
            groups.append([study])
    return groups


def group_cells(cfg: RunConfig, group: list[Study]) -> list[Cell]:
    keys: list[SideKey] = []
    for study in group:
        keys += [k for k in side_keys(study) if k not in keys]
    return [
        Cell(
            target,
            server,
            group[0].scenario,
            cfg.servers.workers,
            cfg.servers.threads,
            instances,
            suffix=f"-{group[0].key}-s{n}",
            profiled=cfg.profiling.enabled,
            scenario_arg=group[0].scenario,
            database=database,
            db_pool=pool,
        )
        for n, (target, server, instances, database, pool) in enumerate(keys)
    ]


def run_suite(
    run: RunFolder, plan: SuitePlan, progress: Progress, derive: Derive | None = None
) -> RunOutcome:
    """Every chosen study into ``run``; ``summary.json`` gets a ``studies`` section."""
    studies, skipped = chosen_studies(plan)
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    section: dict[str, Any] = {
        "plan": {
            "thorough": plan.thorough,
            "repetitions": plan.repetitions,
            "tolerance": plan.tolerance,
            "step_s": [plan.times.warmup, plan.times.duration],
        },
        "studies": results,
        "skipped": skipped,
    }
    run.set_section("studies", section)
    with run.running(derive):
        groups = group_studies(studies)
        for index, group in enumerate(groups):
            names = "; ".join(f"{st.technique}: {st.label(0)} vs {st.label(1)}" for st in group)
            progress.message(f"[{index + 1}/{len(groups)}] {names}, {group[0].workload}")
            results += run_group(run, group, plan, progress)
            section["wall_s"] = round(time.monotonic() - started, 1)
            run.set_section("studies", section)
        if plan.headline:
            from harness.segments.suite.headline import run_headline

            run.set_section("headline", run_headline(run, plan.thorough, progress))
    return RunOutcome(run.dir, "complete", run.rows, report=run.report)


@dataclass
class SideResult:
    key: SideKey
    side: Side
    saturated: float = 0.0
    capacity: Capacity | None = None
    estimates: list[float] = field(default_factory=list)
    ladder: list[Step] = field(default_factory=list)
    common: Step | None = None


def run_group(
    run: RunFolder, group: list[Study], plan: SuitePlan, progress: Progress
) -> list[dict[str, Any]]:
    t0 = time.monotonic()
    slo = Slo.parse(group[0].slo)
    cells = group_cells(run.cfg, group)
    with Supervisor() as sup:
        sides = [start_side(sup, run, cell) for cell in cells]
        stepper = open_stepper(sup, run, sides, run.dir / "studies" / group[0].key)
        try:
            keys = [cell_key(c) for c in cells]
            measured = _measure(
                run,
                plan,
                slo,
                [SideResult(k, s) for k, s in zip(keys, sides, strict=True)],
                stepper,
            )
        finally:
            stepper.close()
    by_key = {m.key: m for m in measured}
    wall = round(time.monotonic() - t0, 1)
    out = []
    for study in group:
        base, var = (by_key[k] for k in side_keys(study))
        result = study_result(study, slo, base, var)
        result["wall_s"] = wall
        progress.message(f"  {result['verdict']}")
        out.append(result)
    progress.message(f"  [{wall:.0f}s]")
    return out


def _measure(
    run: RunFolder, plan: SuitePlan, slo: Slo, sides: list[SideResult], stepper: Stepper
) -> list[SideResult]:
    times = plan.times

    def step(i: int, rate: float, duration: float | None = None) -> tuple[Step, Any]:
        s, folder = stepper.run(
            rate, times.warmup, duration or times.duration, sides[i].side.stack.url
        )
        if rate > 0:
            s.passed, s.reason = judge(s, slo)
            sides[i].ladder.append(s)
        return s, folder

    order = range(len(sides))
    for i in order:
        sides[i].saturated = step(i, 0.0, 1.0)[0].achieved  # rate 0: the closed model
    searches = [
        CapacitySearch(
            slo,
            SearchPlan(
                start=max(5.0, round(SEARCH_START * s.saturated, 1)),
                factor=SEARCH_FACTOR,
                descend=DESCEND,
                tolerance=plan.tolerance,
                confirm=False,
                max_time=150.0,
            ),
            clock=time.monotonic,
        )
        for s in sides
    ]
    for _ in range(40):  # interleaved: one step of each side in turn
        proposals = [s.next_step() for s in searches]
        if all(p is None for p in proposals):
            break
        for i, proposal in enumerate(proposals):
            if proposal is not None:
                searches[i].record(step(i, proposal[0])[0])
    centres: list[float | None] = []
    for i in order:
        result = sides[i].capacity = searches[i].result()
        centre = interpolate(result.steps, slo) if result.rate is not None else None
        centres.append(centre)
        if centre is not None:
            sides[i].estimates.append(centre)  # repetition 1: the search's own crossing
    if all(c is not None for c in centres):
        for _ in range(plan.repetitions - 1):  # A B A B: each repetition measures afresh
            for i in order:
                sides[i].estimates.append(
                    repetition_estimate(partial(_first, step, i), float(centres[i] or 0), slo)
                )
        rate = round(COMMON_SHARE * min(sum(s.estimates) / len(s.estimates) for s in sides), 1)
        duration = min(plan.common_max_s, max(times.confirm, math.ceil(NON_THIN_SAMPLES / rate)))
        for i in order:
            at, folder = step(i, rate, duration)
            sides[i].common = at
            row = step_row(run, sides[i].side, stepper, at, folder, times, duration=duration)
            if row is not None:
                found = sides[i].capacity
                row["common_rate"] = {"rate": rate, "seconds": duration}
                row["capacity"] = {
                    **(found.to_json() if found else {}),
                    "steps": [x.to_json() for x in sides[i].ladder],
                }
                run.add_row(row)
    return sides


def study_result(study: Study, slo: Slo, base: SideResult, var: SideResult) -> dict[str, Any]:
    common: dict[str, Any] | None = None
    if base.common is not None and var.common is not None:
        common = {"rate": base.common.rate}
        for name, s in (("base", base.common), ("variant", var.common)):
            common.update({f"{name}_p50": s.p50, f"{name}_p99": s.p99, f"{name}_thin": s.thin})
    ratio = lo = hi = None
    if base.estimates and var.estimates:
        with contextlib.suppress(ValueError):  # no pair of positive capacities: no ratio
            ratio, lo, hi = ratio_interval(base.estimates, var.estimates)
    return {
        "key": study.key,
        "technique": study.technique,
        "question": study.question,
        "workload": study.workload,
        "scenario": study.scenario,
        "control": study.control,
        "baseline": _side_json(study.baseline, base),
        "variant": _side_json(study.variant, var),
        "ratio": _r(ratio),
        "ci": [_r(lo), _r(hi)] if lo is not None else None,
        "repetitions": min(len(base.estimates), len(var.estimates)),
        "common": common,
        "steps": len(base.ladder) + len(var.ladder),
        "slo": slo.to_json(),
        "verdict": verdict(study, ratio, lo, hi, common),
        "answer": short_verdict(ratio, lo, hi, study.control),
    }


def add_why(run_dir: Path, section: dict[str, Any]) -> None:
    """Each study's "why" line from the run's profiled samples (``profiles/hotspots.json``):
    the variant's top functions by self time per request beside the baseline's."""
    try:
        cells = json.loads((run_dir / "profiles" / "hotspots.json").read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        cells = {}
    for st in section.get("studies", []):
        parts = [why_part(st[name], cells) for name in ("variant", "baseline")]
        found = [p for p in parts if p]
        st["why"] = "why: " + "; ".join(found) if found else "why: no profiled samples"


def why_part(side: dict[str, Any], cells: dict[str, Any]) -> str:
    endpoints = (cells.get(side["cell_id"]) or {}).get("endpoints") or {}
    if not endpoints:
        return ""
    ep = max(endpoints.values(), key=lambda e: e.get("profiled_requests", 0))
    named = [h for h in ep.get("hotspots") or [] if str(h.get("function") or "").strip()]
    top = sorted(named, key=lambda h: -float(h.get("self_ms", 0)))[:WHY_TOP]
    funcs = ", ".join(f"{h['function']} {h['self_ms']:.2f} ms" for h in top) or "no hotspot"
    return (
        f"{side['target']} on {side['server']} spends {funcs} (self, per request; "
        f"{ep.get('profiled_requests', 0)} profiled, {ep.get('wall_ms_mean', 0):.1f} ms "
        "each)"
    )


def _first(step: Callable[[int, float], tuple[Step, Any]], side: int, rate: float) -> Step:
    return step(side, rate)[0]


def _side_json(side: tuple[str, str], result: SideResult) -> dict[str, Any]:
    est = result.estimates
    cap = result.capacity
    cell = result.side.cell
    return {
        "target": side[0],
        "server": side[1],
        **({"database": cell.database} if cell.database else {}),
        **({"db_pool": cell.db_pool} if cell.db_pool else {}),
        "cell_id": result.side.cell.cell_id,
        "saturated_rps": _r(result.saturated),
        "capacity": _r(sum(est) / len(est)) if est else None,
        "repetitions": [_r(e) for e in est],
        "search": cap.message if cap else "",
        "outcome": cap.outcome if cap else "",
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
