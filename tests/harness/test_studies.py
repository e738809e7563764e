"""The studies' statistics, choices and why lines, without processes."""

from __future__ import annotations

import json
import math
from pathlib import Path

from harness.config import RunConfig
from harness.segments.suite.estimates import (
    half_width,
    log_ratio,
    paired_interval,
    short_verdict,
    verdict,
)
from harness.segments.suite.paired import PairLog, Segment, next_study, side_figures
from harness.segments.suite.studies import (
    SuitePlan,
    chosen_studies,
    group_cells,
    group_studies,
    study_cells,
)
from harness.segments.suite.why import add_why


def test_paired_interval_contains_the_ratio_and_excludes_one_for_a_clear_gain() -> None:
    logs = [math.log(v / b) for b, v in ((100, 410), (104, 395), (98, 420), (101, 400))]
    ratio, lo, hi = paired_interval(logs)
    assert lo <= ratio <= hi and lo > 1.0 and abs(ratio - 4.0) < 0.1
    ratio, lo, hi = paired_interval([0.1, -0.12, 0.05, -0.02])
    assert lo < 1.0 < hi
    assert log_ratio(0.0, 10.0) is None  # a side that served nothing gives no pair
    assert math.isinf(half_width([0.1]))
    # the same spread over more pairs: a narrower interval
    assert half_width([0.05, -0.05] * 8) < half_width([0.05, -0.05] * 2)


def test_verdicts_in_words() -> None:
    text = verdict(
        "caching", "/queries?queries=20", False, 2.1, 2.0, 2.2, "p99 at 70 req/s 31.0 ms -> 4.0 ms"
    )
    assert text.startswith("caching: 2.10x the throughput on /queries?queries=20 (2.00-2.20)")
    assert text.endswith("31.0 ms -> 4.0 ms")
    assert short_verdict(1.01, 0.97, 1.04) == "no difference within ±5%"
    assert short_verdict(0.5, 0.45, 0.55).startswith("costs")
    assert "contains 1.0" in verdict("A/A", "/q", True, 1.0, 0.97, 1.03)
    assert short_verdict(1.0, 0.97, 1.04, control=True) == "noise floor ±4%"


def test_the_next_pair_goes_to_the_youngest_then_the_widest_study() -> None:
    a = PairLog("a", "a0", "a1", target=0.05, logs=[0.0, 0.01, -0.01, 0.0])
    b = PairLog("b", "b0", "b1", target=0.05, logs=[0.3, -0.3, 0.2, -0.2])
    c = PairLog("c", "c0", "c1", target=0.05, logs=[0.0])
    assert next_study([a, b, c], 4, 40) is c  # below min_pairs first
    c.logs += [0.0, 0.001, -0.001]
    assert next_study([a, b, c], 4, 40) is b  # then the widest against its target
    assert next_study([a, c], 4, 40) is None  # every interval met
    assert next_study([a, b, c], 4, 4) is None  # the most pairs a study gets


def test_side_figures_weigh_cpu_by_requests() -> None:
    segs = [
        Segment("x", 0.0, 100.0, 100, 1.0, 2.0, 0.0, cpu_ms=10.0),
        Segment("x", 0.0, 300.0, 300, 1.0, 2.0, 0.0, cpu_ms=2.0, generator_bound=True),
    ]
    fig = side_figures(segs)
    assert fig["throughput"] == 200.0 and fig["cpu_ms"] == 4.0
    assert fig["generator_bound"] == 1 and fig["segments"] == [100.0, 300.0]


def test_quick_suite_has_the_control_and_skips_instances_on_two_cpus() -> None:
    quick, _ = chosen_studies(SuitePlan.of(False), cpus=2)
    assert any(s.control for s in quick) and any(s.key == "caching-queries" for s in quick)
    thorough, skipped = chosen_studies(SuitePlan.of(True), cpus=2)
    assert "instances" not in {s.key for s in thorough}
    assert any("instances" in note and "4 CPUs" in note for note in skipped)
    assert "instances" in {s.key for s in chosen_studies(SuitePlan.of(True), cpus=8)[0]}


def test_studies_sharing_a_side_run_as_one_group() -> None:
    quick, _ = chosen_studies(SuitePlan.of(False), cpus=2)
    groups = group_studies(quick)
    keys = [[s.key for s in g] for g in groups]
    assert ["aa-control", "caching-queries"] in keys  # both have uncached as baseline
    cfg = RunConfig.build()
    group = next(g for g in groups if len(g) == 2)
    cells = group_cells(cfg, group)
    assert [c.target for c in cells] == ["uncached", "sync", "cached"]
    assert len({c.cell_id for c in cells}) == 3
    pairs = study_cells(cfg, group)
    assert pairs["aa-control"][0] is pairs["caching-queries"][0] or (
        pairs["aa-control"][0].cell_id == pairs["caching-queries"][0].cell_id
    )  # one uncached server for both studies


def test_cpu_bound_sides_run_one_worker_and_upstream_the_runs_workers() -> None:
    """One worker a side where both sides share the CPU (two workers split a segment's
    connections unevenly); upstream fan-out keeps the run's workers for its threads; the
    cached side's warm-up floor follows the workers whose caches fill."""
    quick, _ = chosen_studies(SuitePlan.of(False), cpus=2)
    cfg = RunConfig.build(workers=3)
    for group in group_studies(quick):
        want = 3 if group[0].scenario == "upstream" else 1
        assert {c.workers for c in group_cells(cfg, group)} == {want}, group[0].key
    caching = next(s for s in quick if s.key == "caching-queries")
    assert caching.warm_requests(1)[0] == 0 < caching.warm_requests(1)[1]
    assert caching.warm_requests(2)[1] == 2 * caching.warm_requests(1)[1]
    control = next(s for s in quick if s.control)
    assert control.warm_requests(1) == (0, 0)


def test_plan_defaults_fit_the_budget_and_the_seed_is_kept() -> None:
    quick = SuitePlan.of(False, seed=7)
    assert quick.max_time == 150.0 and quick.seed == 7 and not quick.thorough
    assert SuitePlan.of(False, max_time=90.0).max_time == 90.0
    thorough = SuitePlan.of(True)
    assert thorough.target < quick.target and thorough.max_time > quick.max_time


def _side(cell: str, target: str, cpu: float | None) -> dict[str, object]:
    return {"cell_id": cell, "target": target, "server": "gthread", "cpu_ms": cpu}


def _row(cell: str, parts: dict[str, object]) -> dict[str, object]:
    """A common-rate row as the recorder makes it: the request thread's CPU (Server-Timing
    ``cpu``) is the endpoint's ``cpu_ms``, the waits are breakdown parts."""
    parts = dict(parts)
    cpu = parts.pop("cpu", None)
    ep = {"requests": 100, "breakdown": {"parts": parts}, "cpu_ms": cpu}
    return {"cell_id": cell, "common_rate": {"rate": 80}, "endpoints": {"GET /q": ep}}


def test_why_line_compares_cpu_and_queueing_when_the_cpu_part_is_sent(tmp_path: Path) -> None:
    section = {
        "studies": [
            {
                "baseline": _side("a-cell", "uncached", 7.9),
                "variant": _side("b-cell", "cached", 3.1),
                "common": {"rate": 80.0},
            }
        ]
    }
    rows = [
        _row("a-cell", {"cpu": {"mean": 7.0}, "queue": {"p50": 0.4}, "db": {"p50": 5.0}}),
        _row(
            "b-cell",
            {"cpu": {"mean": 2.5}, "queue": {"p50": 0.1}, "db": {"p50": 0.2}, "up": {"p50": 0}},
        ),
    ]
    add_why(tmp_path, section, rows)
    why = section["studies"][0]["why"]
    assert why.startswith("why: CPU per request (server processes, at saturation) 7.90 -> 3.10")
    assert "the request thread's own CPU at 80 req/s (mean) 7.00 -> 2.50 ms" in why
    assert "queueing p50 0.40 -> 0.10 ms" in why and "database p50 5.00 -> 0.20 ms" in why
    assert "upstream" not in why  # no upstream wait on either side: not worth a word
    assert "self time" not in why


def test_why_line_falls_back_to_self_time_with_a_note(tmp_path: Path) -> None:
    hot = {
        "cells": {
            "b-cell": {
                "endpoints": {
                    "GET /q": {
                        "profiled_requests": 40,
                        "hotspots": [
                            {"function": "cache_get", "self_ms": 0.2},
                            {"function": "render", "self_ms": 0.4},
                        ],
                    }
                }
            }
        }
    }
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "hotspots.json").write_text(json.dumps(hot))
    section = {
        "studies": [
            {
                "baseline": _side("a-cell", "uncached", None),
                "variant": _side("b-cell", "cached", None),
            }
        ]
    }
    add_why(tmp_path, section, [_row("a-cell", {"queue": {"p50": 0.4}})])
    why = section["studies"][0]["why"]
    assert "no CPU part in Server-Timing" in why and "waiting for the GIL" in why
    assert "cached on gthread render 0.40 ms, cache_get 0.20 ms" in why
    assert "uncached on gthread" not in why  # no samples for the baseline: left out
