"""The studies' statistics and choices, without processes."""

from __future__ import annotations

import json
from pathlib import Path

from harness.config import RunConfig
from harness.segments.capacity.search import Slo, Step
from harness.segments.suite.studies import (
    STUDIES,
    SuitePlan,
    add_why,
    chosen_studies,
    group_cells,
    group_studies,
    interpolate,
    ratio_interval,
    repetition_estimate,
    short_verdict,
    verdict,
)

SLO = Slo(50.0, 0.1)


def _step(rate: float, p99: float) -> Step:
    s = Step(rate, rate, p99 / 3, p99, 0.0, requests=int(rate * 2))
    s.passed = p99 <= SLO.p99_ms
    return s


def test_interpolate_finds_where_p99_crosses_the_slo() -> None:
    # log-linear between (100, 25 ms) and (200, 100 ms): 50 ms at 150 req/s
    crossing = interpolate([_step(100, 25), _step(200, 100)], SLO)
    assert crossing is not None and abs(crossing - 150) < 1e-6
    assert interpolate([_step(100, 25)], SLO) == 100  # no failure: the pass is a lower bound
    assert interpolate([_step(100, 80)], SLO) is None


def test_repetition_estimate_steps_up_after_a_pass_and_down_after_a_failure() -> None:
    asked: list[float] = []

    def run(rate: float) -> Step:
        asked.append(rate)
        return _step(rate, 50 * (rate / 150) ** 4)  # crosses the SLO at 150

    est = repetition_estimate(run, 140, SLO)
    assert asked == [140, 154] and 140 < est < 154 and abs(est - 150) < 1
    asked.clear()
    est = repetition_estimate(run, 160, SLO)
    assert asked == [160, 144] and 144 < est < 160 and abs(est - 150) < 1
    asked.clear()
    est = repetition_estimate(run, 100, SLO)  # both pass: extrapolated, not the step's rate
    assert asked == [100, 110] and 140 < est < 160


def test_ratio_interval_contains_the_ratio_and_excludes_one_for_a_clear_gain() -> None:
    ratio, lo, hi = ratio_interval([100, 104, 98], [410, 395, 420])
    assert lo <= ratio <= hi and lo > 1.0
    ratio, lo, hi = ratio_interval([100, 120, 90], [110, 95, 105])
    assert lo < 1.0 < hi
    # three A/A pairs all a little low: the ratio is below 1, the interval still holds 1
    # (a percentile bootstrap of three pairs gave 0.75-0.92 on these)
    ratio, lo, hi = ratio_interval([212, 236, 223], [158, 196, 205])
    assert round(ratio, 2) == 0.83 and lo < 1.0 < hi


def test_verdicts_in_words() -> None:
    caching = next(s for s in STUDIES if s.key == "caching-queries")
    common = {
        "rate": 100,
        "base_p99": 31.0,
        "variant_p99": 4.0,
        "base_thin": False,
        "variant_thin": True,
    }
    text = verdict(caching, 4.1, 3.8, 4.4, common)
    assert text.startswith("caching: 4.10x capacity on /queries?queries=20 (3.80-4.40)")
    assert "31.0 ms -> thin (4.0 ms)" in text
    assert short_verdict(1.01, 0.97, 1.04) == "no difference within ±5%"
    assert short_verdict(0.5, 0.45, 0.55).startswith("costs")
    control = next(s for s in STUDIES if s.control)
    assert "contains 1.0" in verdict(control, 1.0, 0.9, 1.1, None)


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
    cells = group_cells(cfg, next(g for g in groups if len(g) == 2))
    assert [c.target for c in cells] == ["uncached", "sync", "cached"]
    assert len({c.cell_id for c in cells}) == 3


def test_why_lines_name_each_sides_top_functions(tmp_path: Path) -> None:
    hot = {
        "cells": {
            "b-cell": {
                "endpoints": {
                    "GET /q": {
                        "profiled_requests": 40,
                        "wall_ms_mean": 1.5,
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
                "baseline": {"cell_id": "a-cell", "target": "uncached", "server": "gthread"},
                "variant": {"cell_id": "b-cell", "target": "cached", "server": "gthread"},
            }
        ]
    }
    add_why(tmp_path, section)
    why = section["studies"][0]["why"]
    assert why.startswith("why: cached on gthread spends render 0.40 ms, cache_get 0.20 ms")
    assert "uncached" not in why  # no samples for the baseline: left out, not invented
