"""ab's schedule and stopping rule: randomized balanced order, seeded; when it stops."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.main import cli
from harness.segments.ab.plan import sides_from_options
from harness.segments.ab.schedule import pair_orders
from harness.segments.ab.stopping import FINISH_S, StoppingRule
from runfolder.errors import ConfigError


def _orders(seed: int, n: int) -> list[str]:
    return list(itertools.islice(pair_orders(seed), n))


def test_order_is_balanced_in_every_block_of_two_pairs() -> None:
    for seed in range(50):
        orders = _orders(seed, 40)
        assert set(orders) <= {"AB", "BA"}
        for block in range(0, 40, 2):
            assert sorted(orders[block : block + 2]) == ["AB", "BA"], (seed, orders)


def test_order_is_random_and_replayed_by_its_seed() -> None:
    assert _orders(7, 30) == _orders(7, 30)
    drawn = {tuple(_orders(seed, 10)) for seed in range(40)}
    assert len(drawn) > 20  # 2**5 orders of 5 blocks: many of them drawn
    firsts = [_orders(seed, 1)[0] for seed in range(200)]
    assert 60 < firsts.count("AB") < 140  # neither side goes first by design


def _stop(rule: StoppingRule, decide_at: int | None, pair_s: float = 6.0, start_s: float = 20.0):
    """Pairs run until the rule stops: (pairs run, reason, pair counts ``decided`` saw)."""
    asked: list[int] = []
    pairs = 0
    while True:
        pairs += 1

        def decided(n: int = pairs) -> bool:
            asked.append(n)
            return decide_at is not None and n >= decide_at

        reason = rule.after_pair(pairs, start_s + pairs * pair_s, pairs * pair_s, decided)
        if reason:
            return pairs, reason, asked
        assert pairs < 10_000


def test_asks_only_from_the_minimum_and_stops_once_decided() -> None:
    pairs, reason, asked = _stop(StoppingRule(3, 60, 3600), decide_at=5)
    assert pairs == 5 and asked == [3, 4, 5]
    assert "nothing left to decide after 5 pair(s)" in reason


def test_stops_at_max_pairs_when_never_decided() -> None:
    pairs, reason, _ = _stop(StoppingRule(3, 8, 3600), decide_at=None)
    assert pairs == 8 and "--max-repeat 8" in reason


def test_stops_before_a_pair_would_pass_max_time() -> None:
    # 20 s of start-up, 6 s a pair, 10 s to finish, 5 minutes: after 45 pairs (290 s) the
    # 46th would end at 296 s and the folder be finished at 306 s
    pairs, reason, _ = _stop(StoppingRule(3, 1000, 300), decide_at=None)
    assert pairs == 45 and "--max-time 300s" in reason
    assert 20 + pairs * 6 + FINISH_S <= 300 < 20 + (pairs + 1) * 6 + FINISH_S


@pytest.mark.parametrize(
    ("limits", "needle"),
    [((3, 2, 300.0), "--max-repeat must be at least 3"), ((3, 60, 0.0), "--max-time")],
)
def test_bad_limits_are_config_errors(limits: tuple[int, int, float], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        StoppingRule(*limits)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-time", "0s"], "--max-time must be > 0"),
        (["--segment", "0.5s"], "--segment must be at least 1s"),
        (["--host", "http://127.0.0.1:9"], "--host cannot be used"),
    ],
)
def test_bad_ab_options_exit_2(args: list[str], needle: str) -> None:
    sides = ["--baseline-target", "sync", "--candidate-target", "cached"]
    result = CliRunner().invoke(cli, ["ab", *sides, *args], standalone_mode=True)
    assert result.exit_code == 2, result.output
    assert needle in result.output


def test_bad_sides_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="one pair"):
        sides_from_options((None, None), (None, None), (None, None), None)
    with pytest.raises(ConfigError, match="--app"):
        sides_from_options((None, None), (None, None), ("main", "HEAD"), None)
    with pytest.raises(ConfigError, match="must both be given"):
        sides_from_options(("sync", None), (None, None), (None, None), None)


def test_revisions_outside_a_repository_exit_2(tmp_path: Path) -> None:
    revs = ["--baseline-rev", "x", "--candidate-rev", "y"]
    args = ["ab", "--app", "myapp:app", "--app-dir", str(tmp_path), *revs]
    result = CliRunner().invoke(cli, args, standalone_mode=True)
    assert result.exit_code == 2, result.output
    assert "not inside a git repository" in result.output


def test_an_undecided_ab_says_what_would_decide_it() -> None:
    """Only single endpoints undecided (a many-route app at 2 users): gate the merged
    figures; the merged figures undecided too: more pairs or more users."""
    from dataclasses import dataclass, field

    from harness.cli.ab import _what_decides
    from reports.comparison import Finding

    @dataclass
    class Cmp:
        undecided: list[Finding]
        gate_endpoints: tuple[str, ...] = field(default=())

    def undecided(endpoint: str) -> Finding:
        return Finding("b", "cell", endpoint, "p50", "p50:+5%", "undecided: more pairs needed")

    routes = Cmp([undecided("GET /a"), undecided("GET /b"), undecided("GET /a")])
    text = _what_decides(routes, 2, 300)
    assert "--gate-endpoint all" in text and "2 single endpoint(s)" in text
    assert "--users, now 2" in text and "--max-time, now 300s" in text
    merged = Cmp([undecided("GET /a"), undecided("all endpoints")])
    assert "--gate-endpoint" not in _what_decides(merged, 2, 300)
    gated = Cmp([undecided("GET /a")], ("GET /a",))
    assert "--gate-endpoint" not in _what_decides(gated, 2, 300)
