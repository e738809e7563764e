"""ab's schedule: A B A B, stops once decided, at --max-repeat, never before the minimum."""

from __future__ import annotations

from typing import Any

import pytest

from harness.config import RunConfig
from harness.segments.ab.plan import Side, plan_ab, sides_from_options
from runfolder.errors import ConfigError


class FakeWriter:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.meta: dict[str, Any] = {}

    def update_meta(self, **fields: Any) -> None:
        self.meta.update(fields)


def _run(decide_after: int | None, max_repeat: int = 6, min_repeat: int = 3):
    cfg = RunConfig.build(targets=("sync",), scenarios=("json",), name="ab")
    checks: list[int] = []

    def decided(rows: list[dict[str, Any]]) -> bool:
        checks.append(len(rows))
        return decide_after is not None and len(rows) >= 2 * decide_after

    plan = plan_ab(
        cfg,
        Side("baseline", target="sync"),
        Side("candidate", target="cached"),
        decided=decided,
        min_repeat=min_repeat,
        max_repeat=max_repeat,
        max_time=3600,
    )
    writer = FakeWriter()
    work = []
    for _cfg, cell, rep in plan.schedule(writer):  # type: ignore[arg-type]
        work.append((cell.side, cell.target, rep))
        writer.rows.append({"side": cell.side})
    return work, writer.meta, checks, plan


def test_interleaved_and_stops_once_decided() -> None:
    work, meta, checks, plan = _run(decide_after=4)
    assert work[:4] == [
        ("baseline", "sync", 0),
        ("candidate", "cached", 0),
        ("baseline", "sync", 1),
        ("candidate", "cached", 1),
    ]
    assert len(work) == 8 and checks == [6, 8]  # first asked after the minimum (3)
    assert "after 4 repetition(s)" in meta["ab_stopped"]
    assert {c.cell_id for c in plan.cells} == {
        "sync-gunicorn-gthread-json-baseline",
        "cached-gunicorn-gthread-json-candidate",
    }


def test_stops_at_max_repeat_when_never_decided() -> None:
    work, meta, _, _ = _run(decide_after=None, max_repeat=5)
    assert len(work) == 10 and "--max-repeat 5" in meta["ab_stopped"]


def test_bad_limits_and_sides_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="--max-repeat"):
        _run(decide_after=None, max_repeat=2, min_repeat=3)
    with pytest.raises(ConfigError, match="one pair"):
        sides_from_options((None, None), (None, None), (None, None), None)
    with pytest.raises(ConfigError, match="--app"):
        sides_from_options((None, None), (None, None), ("main", "HEAD"), None)
