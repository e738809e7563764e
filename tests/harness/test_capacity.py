"""The capacity search on synthetic step results: no process is started."""

from __future__ import annotations

import random

import pytest

from harness.segments.capacity.search import SearchPlan, Slo, Step, judge, search
from runfolder.errors import ConfigError

SLO = Slo(p99_ms=50.0, error_pct=0.1)


def server(
    capacity: float, *, noise: float = 0.0, seed: int = 1, generator_limit: float | None = None
):  # type: ignore[no-untyped-def]
    """A synthetic server: p99 grows steeply as the rate nears ``capacity``."""
    rng = random.Random(seed)

    def run(rate: float, confirm: bool) -> Step:
        cap = capacity * (1 + rng.uniform(-noise, noise))
        load = rate / cap
        p99 = 5.0 / max(1e-3, 1 - load) if load < 1 else 5000.0
        achieved = rate if load < 1 else cap
        bound = generator_limit is not None and rate > generator_limit
        return Step(
            rate, achieved, p99 / 3, p99, 0.0, requests=int(rate * 3), generator_bound=bound
        )

    return run


def test_monotone_finds_the_knee_within_tolerance() -> None:
    # p99 <= 50 ms while 5 / (1 - load) <= 50: load <= 0.9, i.e. 900 req/s of 1000
    result = search(server(1000.0), SLO, SearchPlan(start=50))
    assert result.outcome == "found"
    assert result.rate is not None and 850 <= result.rate <= 900
    low, high = result.bracket
    assert high is not None and (high - low) / low <= 0.05 + 1e-9
    assert result.steps[-1].confirm and result.steps[-1].passed
    rates = [s.rate for s in result.steps[:5]]
    assert rates == [50, 100, 200, 400, 800]  # exponential first
    assert "max sustainable" in result.message


def test_noisy_steps_still_land_near_the_knee() -> None:
    for seed in range(5):
        result = search(server(1000.0, noise=0.05, seed=seed), SLO, SearchPlan(start=50))
        assert result.rate is not None
        assert 750 <= result.rate <= 960, (seed, result.rate, [s.rate for s in result.steps])


def test_generator_bound_step_ends_the_search_without_a_capacity() -> None:
    result = search(server(5000.0, generator_limit=700), SLO, SearchPlan(start=100))
    assert result.outcome == "generator-bound"
    assert result.rate is None
    assert "generator-bound at 800 req/s" in result.message


def test_even_the_first_step_fails() -> None:
    result = search(server(10.0), SLO, SearchPlan(start=50))
    assert result.outcome == "first-step-fails"
    assert result.rate is None and len(result.steps) == 1
    assert "even the first step (50 req/s) fails" in result.message


def test_time_bound_stops_and_says_so() -> None:
    now = [0.0]

    def slow(rate: float, confirm: bool) -> Step:
        now[0] += 10.0
        return server(1000.0)(rate, confirm)

    result = search(
        slow, SLO, SearchPlan(start=50, max_time=35, step_seconds=10), clock=lambda: now[0]
    )
    assert result.stopped_on_bound and result.outcome == "time-bound"
    assert len(result.steps) == 3
    assert "time bound" in result.message


def test_failed_confirmation_steps_down() -> None:
    calls: list[tuple[float, bool]] = []

    def run(rate: float, confirm: bool) -> Step:
        calls.append((rate, confirm))
        step = server(1000.0)(rate, confirm)
        if confirm and len([c for c in calls if c[1]]) == 1:
            step.p50_first, step.p50_last = 5.0, 40.0  # the queue grew in the longer step
        return step

    result = search(run, SLO, SearchPlan(start=50))
    confirms = [r for r, c in calls if c]
    assert len(confirms) == 2 and confirms[1] < confirms[0]
    assert result.outcome == "found" and result.rate == confirms[1]
    assert "latency rising" in result.steps[-2].reason


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (Step(100, 100, 2, 10, 0.0, dropped=3, requests=300), "3 requests dropped"),
        (Step(100, 100, 2, 10, 0.5, requests=300), "errors 0.50%"),
        (Step(100, 100, 2, 60, 0.0, requests=300), "p99 60.0 ms > 50 ms"),
        (Step(100, 97, 2, 10, 0.0, requests=300), "achieved 97 of 100"),
        (Step(100, 100, 2, 10, 0.0, requests=0), "no request completed"),
    ],
)
def test_each_rule_fails_a_step(step: Step, reason: str) -> None:
    passed, why = judge(step, SLO)
    assert not passed and reason in why


def test_a_step_within_every_rule_passes() -> None:
    assert judge(Step(100, 99, 2, 10, 0.0, requests=300, p50_first=2, p50_last=2.5), SLO)[0]


def test_slo_parse() -> None:
    assert Slo.parse("p99:50ms,errors:0.1%") == Slo(50.0, 0.1)
    assert Slo.parse("p99:0.2s") == Slo(200.0, 0.0)
    for bad in ("p99:fast", "errors:1%", "p42:5ms,p99:5ms,x", "p99:50"):
        with pytest.raises(ConfigError, match="--slo"):
            Slo.parse(bad)


def test_a_saturation_ceiling_bisects_below_it() -> None:
    result = search(server(1000.0), SLO, SearchPlan(start=700, ceiling=1100, confirm=False))
    assert result.outcome == "found"
    assert result.rate is not None and 850 <= result.rate <= 900
    assert result.steps[0].rate == 700 and all(s.rate < 1100 for s in result.steps)
    assert len(result.steps) <= 5


def test_descend_retries_lower_when_the_first_step_fails() -> None:
    result = search(
        server(300.0), SLO, SearchPlan(start=700, ceiling=1000, descend=0.5, confirm=False)
    )
    assert [s.rate for s in result.steps[:3]] == [700, 350, 175]
    assert result.outcome == "found" and result.rate is not None and 240 <= result.rate <= 270
