"""The default suite on real servers: one ``bench.py suite`` (module-scoped), read by each test.

Every side starts once with a Locust of its own; a pair's two segments run at the same
time; caching must show on ``/queries?queries=20`` whatever else the machine runs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import bench, latest_run, load

pytestmark = pytest.mark.e2e


class Suite:
    def __init__(self, root: Path) -> None:
        self.result: subprocess.CompletedProcess[str] = bench(
            # a budget that other test files running beside it cannot make binding
            ["suite", "--max-time", "240", "--out", str(root / "runs")],
            cwd=root,
            timeout=600,
        )
        self.run = latest_run(root / "runs")
        self.summary: dict[str, Any] = load(self.run, "summary.json")
        self.meta: dict[str, Any] = load(self.run, "meta.json")
        self.studies = {s["key"]: s for s in self.summary["studies"]["studies"]}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Suite:
    return Suite(tmp_path_factory.mktemp("suite"))


def test_every_study_is_answered(suite: Suite) -> None:
    assert suite.result.returncode == 0, suite.result.stderr[-2000:]
    assert suite.meta["status"] == "complete"
    assert set(suite.studies) == {"aa-control", "caching-queries", "async-upstream"}
    # the default 150 s budget: other test files running beside this one can leave a
    # study fewer than its 4 pairs, never none
    for study in suite.studies.values():
        assert study["pairs"] >= 1 and len(study["log_ratios"]) == study["pairs"]
        if study["pairs"] >= 2:
            low, high = study["ci"]
            assert 0 < low <= study["ratio"] <= high
    # caching answers /queries?queries=20 from its cache: clearly more throughput
    assert suite.studies["caching-queries"]["ratio"] > 1.2
    assert "What each technique buys" in suite.result.stdout


def _starts(folder: Path) -> list[float]:
    return [
        json.loads(p.read_text())["start_unix"] for p in sorted(folder.glob("test-*/recorder.json"))
    ]


def test_a_pairs_segments_run_at_the_same_time(suite: Suite) -> None:
    """async-upstream's two sides serve no other study: each test of one side (warm-up and
    pairs, all but the single-side common-rate step at the end) has one of the other
    side starting with it."""
    study = suite.studies["async-upstream"]
    group = suite.run / "studies" / "async-upstream"
    base = _starts(group / study["baseline"]["cell_id"])
    var = _starts(group / study["variant"]["cell_id"])
    assert len(base) == len(var) >= study["pairs"] + 1
    for a, b in zip(base[:-1], var[:-1], strict=True):
        assert abs(a - b) < 0.5, (a, b)


def test_each_side_has_its_own_locust_and_server(suite: Suite) -> None:
    commands = suite.meta["commands"]
    locusts = [c for c in commands if any(Path(part).name == "locust" for part in c[:3])]
    servers = [c for c in commands if Path(c[0]).name == "gunicorn"]
    sides = {s["cell_id"] for st in suite.studies.values() for s in (st["baseline"], st["variant"])}
    # the control and caching share `uncached`; one more for the headline's journey
    assert len(sides) == 5 and len(servers) == len(sides) + 1
    assert len(locusts) >= len(sides)


def test_cpu_bound_sides_run_one_worker(suite: Suite) -> None:
    """The /queries sides run one gunicorn worker each (two split a segment's connections
    unevenly); the upstream sides keep more, for their threads' waits."""
    workers = {}
    for c in suite.meta["commands"]:
        if Path(c[0]).name == "gunicorn":
            workers[c[-1].split(":")[0].split(".")[-1]] = int(c[c.index("--workers") + 1])
    assert workers["uncached_app"] == workers["cached_app"] == 1
    assert workers["async_app"] > 1
