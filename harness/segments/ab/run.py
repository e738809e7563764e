"""``ab``'s measurement: both sides up once, pairs of short segments until decided.

1. The generated routes of ``--app`` are read before the run folder (bad input: exit 2).
2. Every side's stack starts once (servers, upstream service, Redis) and is verified;
   each side gets its own persistent Locust (``harness/segments/pairs.py``).
3. One discarded warm pair.
4. Pairs: one segment per side at the same time, started in the order ``schedule.py``
   draws; each segment one row
   (``side``, ``repetition`` = the pair, ``order``). After each pair ``stopping.py``
   decides whether to go on, asking ``decided`` (statistics over the rows: the CLI's
   comparison) from the minimum on.

Rendering (the report, the comparison files) happens after this returns, never inside
the loop. meta.json's ``ab`` section says the sides, the seed and the limits;
``ab_stopped`` why it ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.cells import plan_cells
from harness.config import GENERATED_SCENARIO, RunConfig
from harness.load.workload import generate_routes
from harness.run.engine import Derive, Progress, RunOutcome
from harness.segments.ab.plan import SideSpec, side_cell, side_config
from harness.segments.ab.schedule import pair_orders
from harness.segments.ab.stopping import StoppingRule
from harness.segments.pairs import PairRunner
from harness.segments.sides import RunFolder, StepTimes, open_stepper, same_seed, start_side
from harness.stack.processes import Supervisor
from runfolder import figures, storage

Decided = Callable[[list[dict[str, Any]]], bool]


@dataclass(frozen=True)
class AbPlan:
    baseline: SideSpec
    candidate: SideSpec
    rule: StoppingRule
    seed: int
    times: StepTimes  # per segment: settle (warmup) and measured seconds (duration)
    started: float  # unix time the command started: --max-time counts from it

    def meta(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.describe(),
            "candidate": self.candidate.describe(),
            "seed": self.seed,
            "segment_s": self.times.duration,
            "settle_s": self.times.warmup,
            "min_repeat": self.rule.min_pairs,
            "max_repeat": self.rule.max_pairs,
            "max_time_s": self.rule.max_time,
        }


def run_ab(
    cfg: RunConfig,
    plan: AbPlan,
    decided: Decided,
    progress: Progress | None = None,
    derive: Derive | None = None,
) -> RunOutcome:
    """Measure until ``plan.rule`` stops; always leaves a consistent run folder."""
    progress = progress or Progress()
    specs = (plan.baseline, plan.candidate)
    cells = plan_cells(cfg)
    routes = None
    if cfg.subject.app and GENERATED_SCENARIO in cfg.load.scenarios:
        routes = generate_routes(cfg, progress.message)  # before the folder: bad input
    sided = [[side_cell(c, s) for s in specs] for c in cells]
    run = RunFolder(cfg, [c for pair in sided for c in pair], "ab", ab=plan.meta())
    with run.running(derive), Supervisor() as sup:
        if routes is not None:
            storage.write_json(run.dir / "routes.json", routes)
        runners = []
        for index, pair in enumerate(sided):
            sides = [
                start_side(sup, run, cell, cfg=side_config(cfg, spec), extra_env=same_seed(cfg))
                for cell, spec in zip(pair, specs, strict=True)
            ]
            steppers = [
                open_stepper(
                    sup,
                    run,
                    [side],
                    run.dir / "segments" / f"c{index}-{side.cell.side}",
                    open_model=False,
                )
                for side in sides
            ]
            runners.append(
                PairRunner(
                    run,
                    (steppers[0], steppers[1]),
                    (sides[0], sides[1]),
                    plan.times,
                    seed=plan.seed,
                )
            )
        try:
            _measure(run, runners, plan, decided, progress)
        finally:
            for runner in runners:
                for stepper in runner.steppers:
                    stepper.close()
    return RunOutcome(run.dir, "complete", run.rows, report=run.report)


def _measure(
    run: RunFolder,
    runners: list[PairRunner],
    plan: AbPlan,
    decided: Decided,
    progress: Progress,
) -> None:
    for runner in runners:
        runner.warm()
    progress.message(
        f"ab: both sides up and warm after {time.time() - plan.started:.0f}s; pairs of "
        f"{plan.times.duration:g}s segments, order drawn with seed {plan.seed}"
    )
    measuring = 0.0
    for index, order in enumerate(pair_orders(plan.seed)):
        t0 = time.monotonic()
        rows = [row for runner in runners for row in runner.pair(index, order)]
        measuring += time.monotonic() - t0
        progress.message(f"  pair {index + 1} ({' '.join(order)}): " + _figures(rows))
        stopped = plan.rule.after_pair(
            index + 1, time.time() - plan.started, measuring, lambda: decided(run.rows)
        )
        if stopped:
            run.writer.update_meta(ab_stopped=stopped)
            return


def _figures(rows: list[dict[str, Any]]) -> str:
    parts = []
    for row in rows:
        total = (row.get("endpoints") or {}).get(figures.ALL) or {}
        p50 = (total.get("latency_ms") or {}).get("p50")
        parts.append(
            f"{row.get('side')} {float(total.get('rps') or 0):,.0f} req/s"
            + (f" p50 {p50:.1f} ms" if p50 is not None else "")
        )
    return ", ".join(parts)
