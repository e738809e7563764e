"""The default suite's run: many short paired segments on servers that stay up.

What a study's ratio is of: each side's **throughput at saturation**, the requests per
second it completes when every one of the persistent Locust's connections is busy (the
closed model). It is a count over every request of a segment, so a one-second segment
already measures it to a few percent, where a p99 crossing of the SLO rests on the
handful of requests above the p99 and drifts with every other tenant of the machine.
The SLO still judges latency: at a common rate below both saturations each side's p99
is measured and marked when it misses the SLO; capacity under an SLO stays the answer
of ``bench.py capacity``.

1. Every side's server starts once (``live.py``) and all are warmed together by
   unmeasured segments until each one's throughput stops rising (a cache filling, as
   the ``cached`` target's does over its first few thousand requests, would otherwise
   bias the first pairs).
2. Pairs (``paired.py``): one segment of each side of a study, measured at the same
   time (each side has its own Locust), which starts first drawn from
   ``random.Random(seed)``; the pair's log ratio carries the difference with whatever
   the machine did meanwhile cancelled. Each study first gets ``min_pairs``; every further pair
   goes to the study whose 95% interval is widest against its target, until all meet
   their targets or the next pair would overrun ``max_time`` (start-up, the headline
   and the report reserved).
3. The ratio: the geometric mean of the pairs' ratios with a Student-t interval on their
   log ratios (``estimates.py``).
4. One open-model step per side at a common rate (0.7 x the group's lowest saturated
   throughput), every side of a group at once: p50 and p99 there, thin ones marked,
   each judged against the SLO; these steps are the run's summary rows (Server-Timing
   breakdown, CPU part, queueing).
"""

from __future__ import annotations

import math
import random
import time
from contextlib import AbstractContextManager
from typing import Any

from harness.run.engine import Derive, Progress, RunOutcome
from harness.segments.capacity.search import Slo
from harness.segments.sides import RunFolder
from harness.segments.suite.estimates import log_ratio, paired_interval, short_verdict, verdict
from harness.segments.suite.live import open_live
from harness.segments.suite.paired import (
    PairLog,
    PairPlan,
    Segment,
    SegmentEngine,
    run_pairs,
    side_figures,
)
from harness.segments.suite.studies import (
    Study,
    SuitePlan,
    chosen_studies,
    group_studies,
    group_workers,
    study_cells,
)

WARM_RISE = 0.05  # a side is warm once its throughput sets no new high by more than 5% ...
WARM_CALM = 2  # ... in this many segments in a row (a cache fills, pools open) ...
WARM_MAX_SEGMENTS = 3  # ... or after this many segments
WARM_FLOOR_SEGMENT_S = 3.0  # a segment of a side warming alone to its floor
WARM_FLOOR_MAX_S = 40.0  # the longest a side warms alone to serve its floor of requests
COMMON_SHARE = 0.7  # the common rate: 0.7 x the group's lowest saturated throughput
NON_THIN_SAMPLES = 1000  # p99 with 10 samples above it
SEGMENT_OVERHEAD_S = 1.5  # a step's cost beyond its measured seconds (start, stop, results)
STOP_RESERVE_S = 0.5  # stopping one side's server and upstream service
HEADLINE_RESERVE_S = (25.0, 40.0)  # the headline journey and its start-up: quick, thorough
REPORT_RESERVE_S = 10.0  # profile aggregation and the HTML report
CLOCK = time.monotonic  # what the time budget is measured on (tests use a fake clock)


def open_engine(
    run: RunFolder, groups: list[list[Study]], plan: SuitePlan
) -> AbstractContextManager[SegmentEngine]:
    """The engine the suite measures with (tests replace this with a fake one)."""
    return open_live(run, groups, plan.warmup_s)


def reserve_s(plan: SuitePlan, sides: int, groups: int = 1) -> float:
    """Seconds kept back from the pairs for the common-rate steps (one per group, its sides
    at once), stopping the servers, the headline and the report (estimates for a quiet
    machine)."""
    common = groups * (plan.common_max_s + plan.warmup_s + SEGMENT_OVERHEAD_S)
    common += sides * STOP_RESERVE_S
    headline = HEADLINE_RESERVE_S[plan.thorough] if plan.headline else 0.0
    return common + headline + REPORT_RESERVE_S


def run_suite(
    run: RunFolder,
    plan: SuitePlan,
    progress: Progress,
    derive: Derive | None = None,
) -> RunOutcome:
    """Every chosen study into ``run``; ``summary.json`` gets a ``studies`` section.
    ``plan.max_time`` counts from here (the command's start, but for its imports)."""
    started = CLOCK()
    studies, skipped = chosen_studies(plan)
    groups = group_studies(studies)
    section: dict[str, Any] = {"plan": plan_json(plan), "studies": [], "skipped": skipped}
    run.writer.update_meta(seed=plan.seed)
    run.set_section("studies", section)
    with run.running(derive):
        with open_engine(run, groups, plan) as engine:
            measure(engine, run, groups, plan, progress, started, section)
        section["wall_s"] = round(CLOCK() - started, 1)
        run.set_section("studies", section)
        if plan.headline:
            from harness.segments.suite.headline import run_headline

            run.set_section("headline", run_headline(run, plan.thorough, progress))
    return RunOutcome(run.dir, "complete", run.rows, report=run.report)


def plan_json(plan: SuitePlan) -> dict[str, Any]:
    return {
        "thorough": plan.thorough,
        "seed": plan.seed,
        "segment_s": plan.segment_s,
        "warmup_s": plan.warmup_s,
        "min_pairs": plan.min_pairs,
        "max_pairs": plan.max_pairs,
        "target": plan.target,
        "control_target": plan.control_target,
        "max_time": plan.max_time,
    }


def measure(
    engine: SegmentEngine,
    run: RunFolder,
    groups: list[list[Study]],
    plan: SuitePlan,
    progress: Progress,
    started: float,
    section: dict[str, Any],
) -> None:
    """Warm-up, the pairs, the common-rate steps; each study's result and why the pairs
    stopped go into ``section`` (on Ctrl-C during the pairs, the pairs so far)."""
    rng = random.Random(plan.seed)
    logs: list[PairLog] = []
    cells: list[list[str]] = []  # per group, its sides' cell ids
    floors: dict[str, int] = {}  # requests a side serves before its first pair
    for group in groups:
        pairs = study_cells(run.cfg, group)
        workers = group_workers(run.cfg, group)
        ids: list[str] = []
        for study in group:
            base, var = pairs[study.key]
            logs.append(PairLog(study.key, base.cell_id, var.cell_id, plan.target_of(study)))
            ids += [c.cell_id for c in (base, var) if c.cell_id not in ids]
            for cell, floor in zip((base, var), study.warm_requests(workers), strict=True):
                floors[cell.cell_id] = max(floors.get(cell.cell_id, 0), floor)
        cells.append(ids)
    every = [c for ids in cells for c in ids]
    progress.message(f"warm-up: {len(every)} servers, each until its throughput stops rising")
    warm = warm_up(engine, every, plan.segment_s, floors)
    deadline = started + plan.max_time - reserve_s(plan, len(every), len(groups))
    pair_plan = PairPlan(plan.segment_s, plan.min_pairs, plan.max_pairs, deadline)
    by_key = {log.key: log for log in logs}
    studies = [s for g in groups for s in g]
    try:
        stopped = run_pairs(engine, logs, pair_plan, rng, CLOCK, progress.message)
    except KeyboardInterrupt:
        section["studies"] = [study_result(s, by_key[s.key], {}) for s in studies]
        section["stopped"] = "interrupted (Ctrl-C): the pairs so far"
        run.set_section("studies", section)
        raise
    progress.message(f"pairs stopped: {stopped}")
    common: dict[str, Segment] = {}
    for group, ids in zip(groups, cells, strict=True):
        common.update(common_steps(engine, group, ids, logs, plan, rng))
    results = [study_result(s, by_key[s.key], common) for s in studies]
    for result in results:
        for side in (result["baseline"], result["variant"]):
            side["warmup_segments"] = warm[side["cell_id"]]
    for result in results:
        progress.message(f"  {result['question']} {result['verdict']}")
    section["studies"], section["stopped"] = results, stopped


def warm_up(
    engine: SegmentEngine,
    cells: list[str],
    seconds: float,
    floors: dict[str, int] | None = None,
) -> dict[str, int]:
    """Unmeasured closed-model segments; how many each side got.

    First every side at once, until each one's throughput has set no new high by more
    than ``WARM_RISE`` for ``WARM_CALM`` segments in a row (pools open, imports done; at
    most ``WARM_MAX_SEGMENTS``). Then the sides with a request ``floors`` entry not yet
    served (a cache that fills over thousands of requests raises its side's throughput
    too slowly for the rule above to see) run on alone, with the CPU to themselves, until
    they have served it (at most ``WARM_FLOOR_MAX_S`` seconds).
    """
    floors = floors or {}
    best: dict[str, float] = {}
    calm = dict.fromkeys(cells, 0)
    served = dict.fromkeys(cells, 0)
    took = dict.fromkeys(cells, 0)
    for _ in range(WARM_MAX_SEGMENTS):
        for cell_id, seg in zip(cells, engine.together(cells, seconds), strict=True):
            rose = cell_id not in best or seg.throughput > best[cell_id] * (1 + WARM_RISE)
            calm[cell_id] = 0 if rose else calm[cell_id] + 1
            best[cell_id] = max(best.get(cell_id, 0.0), seg.throughput)
            served[cell_id] += seg.requests
            took[cell_id] += 1
        if all(n >= WARM_CALM for n in calm.values()):
            break
    deadline = CLOCK() + WARM_FLOOR_MAX_S
    while CLOCK() < deadline:
        short = [c for c in cells if served[c] < floors.get(c, 0)]
        if not short:
            break
        for cell_id, seg in zip(short, engine.together(short, WARM_FLOOR_SEGMENT_S), strict=True):
            served[cell_id] += seg.requests
            took[cell_id] += 1
    return took


def common_steps(
    engine: SegmentEngine,
    group: list[Study],
    ids: list[str],
    logs: list[PairLog],
    plan: SuitePlan,
    rng: random.Random,
) -> dict[str, Segment]:
    """One open-model step per side at 0.7 x the group's lowest saturated throughput,
    every side of the group at once (as the pairs were measured)."""
    served: dict[str, list[Segment]] = {c: [] for c in ids}
    for log in logs:
        for cell, segs in ((log.base, log.base_segments), (log.variant, log.variant_segments)):
            if cell in served:
                served[cell] += segs
    saturated = [side_figures(segs)["throughput"] for segs in served.values()]
    if not saturated or any(t is None for t in saturated):
        return {}
    rate = round(COMMON_SHARE * min(t for t in saturated if t is not None), 1)
    seconds = min(plan.common_max_s, max(plan.segment_s, math.ceil(NON_THIN_SAMPLES / rate)))
    order = list(ids)
    rng.shuffle(order)
    extra = {"study": group[0].key, "common_rate": {"rate": rate, "seconds": seconds}}
    return dict(zip(order, engine.together(order, seconds, rate, extra), strict=True))


def study_result(study: Study, log: PairLog, common: dict[str, Segment]) -> dict[str, Any]:
    slo = Slo.parse(study.slo)
    ratio = lo = hi = None
    if log.logs:
        ratio, lo, hi = paired_interval(log.logs)
    at: dict[str, Any] | None = None
    base_c, var_c = common.get(log.base), common.get(log.variant)
    if base_c is not None and var_c is not None:
        at = {"rate": base_c.rate}
        for name, seg in (("base", base_c), ("variant", var_c)):
            within = seg.p99 is not None and seg.p99 <= slo.p99_ms and seg.errors <= slo.error_pct
            at.update(
                {
                    f"{name}_p50": seg.p50,
                    f"{name}_p99": seg.p99,
                    f"{name}_thin": seg.thin,
                    f"{name}_within_slo": within,
                }
            )
    base, var = side_figures(log.base_segments), side_figures(log.variant_segments)
    cpu = cpu_ratio(log)
    notes = [
        f"the generator was saturated in {side['generator_bound']} of the {label}'s segments: "
        "its throughput is the generator's, the ratio a bound"
        for side, label in ((base, "baseline"), (var, "variant"))
        if side["generator_bound"]
    ]
    return {
        "key": study.key,
        "technique": study.technique,
        "question": study.question,
        "workload": study.workload,
        "scenario": study.scenario,
        "control": study.control,
        "slo": slo.to_json(),
        "baseline": {**_side(study.baseline, log.base), **base},
        "variant": {**_side(study.variant, log.variant), **var},
        "ratio": _r(ratio),
        "ci": [_r(lo), _r(hi)] if lo is not None else None,
        "pairs": len(log.logs),
        "cpu_ratio": cpu,
        "empty_pairs": log.empty,
        "orders": log.orders,
        "log_ratios": [round(x, 5) for x in log.logs],
        "target": log.target,
        "met": log.met(),
        "common": at,
        "notes": notes,
        "verdict": verdict(
            study.technique, study.workload, study.control, ratio, lo, hi, common_words(at)
        ),
        "answer": short_verdict(ratio, lo, hi, study.control),
    }


def cpu_ratio(log: PairLog) -> dict[str, Any] | None:
    """Variant / baseline CPU per request over the same pairs, with its interval: on a
    shared machine far steadier than throughput (another tenant takes CPU time from the
    server, not CPU per request), and when both sides are CPU-bound at saturation the
    throughput ratio is its inverse."""
    logs = [
        x
        for b, v in zip(log.base_segments, log.variant_segments, strict=True)
        if b.cpu_ms and v.cpu_ms and (x := log_ratio(b.cpu_ms, v.cpu_ms)) is not None
    ]
    if not logs:
        return None
    ratio, lo, hi = paired_interval(logs)
    return {"ratio": _r(ratio), "ci": [_r(lo), _r(hi)], "pairs": len(logs)}


def common_words(at: dict[str, Any] | None) -> str:
    """ "p99 at 84 req/s 27.1 ms -> 7.2 ms" for the verdict sentence."""
    if not at or at.get("base_p99") is None or at.get("variant_p99") is None:
        return ""

    def one(name: str) -> str:
        text = f"{at[f'{name}_p99']:.1f} ms"
        text = f"thin ({text})" if at.get(f"{name}_thin") else text
        return text if at.get(f"{name}_within_slo") else text + " (over the SLO)"

    return f"p99 at {at['rate']:.0f} req/s {one('base')} -> {one('variant')}"


def _side(side: tuple[str, str], cell_id: str) -> dict[str, Any]:
    return {"target": side[0], "server": side[1], "cell_id": cell_id}


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
