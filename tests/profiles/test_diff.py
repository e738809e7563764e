"""Hotspot diff between two profiled runs."""

from __future__ import annotations

import pytest

from profiles.diff import diff_hotspots
from tests.profiles.synth import write_raw


def make_run(root, name: str, cells: dict[str, float]) -> object:
    """A run whose cells spend ``ms`` per request in ``fetch`` under ``view`` (+0.5 ms self)."""
    run = root / name
    for cell, ms in cells.items():
        reqs = [("GET /db", ms + 0.5, [(["view"], 0.0005), (["view", "fetch"], ms / 1000)])] * 4
        write_raw(run / "cells" / cell / "r0" / "profiles" / "1-00000.json", reqs)
    return run


def test_the_function_that_got_slower_comes_first(tmp_path):
    a = make_run(tmp_path, "a", {"sync-db": 1.0})
    b = make_run(tmp_path, "b", {"sync-db": 3.0})
    rows = diff_hotspots(a, b)  # aggregates both runs first: no hotspots.json yet
    top = rows[0]
    assert top["cell_id"] == "sync-db" and top["endpoint"] == "GET /db"
    assert top["function"] in {"view", "fetch"}
    fetch = next(r for r in rows if r["function"] == "fetch")
    assert fetch["ms_a"] == pytest.approx(1.0) and fetch["ms_b"] == pytest.approx(3.0)
    assert fetch["change_ms"] == pytest.approx(2.0) and fetch["change_pct"] == pytest.approx(200)
    assert fetch["self_change_ms"] == pytest.approx(2.0)
    view = next(r for r in rows if r["function"] == "view")
    assert view["self_change_ms"] == pytest.approx(0.0)
    changes = [abs(r["change_ms"]) for r in rows]
    assert changes == sorted(changes, reverse=True)


def test_one_cell_on_each_side_is_compared_whatever_its_id(tmp_path):
    a = make_run(tmp_path, "a", {"uncached-db": 2.0})
    b = make_run(tmp_path, "b", {"cached-db": 0.5})
    rows = diff_hotspots(a, b)
    fetch = next(r for r in rows if r["function"] == "fetch")
    assert (fetch["cell_a"], fetch["cell_b"]) == ("uncached-db", "cached-db")
    assert fetch["change_ms"] == pytest.approx(-1.5)


def test_several_cells_are_matched_by_id(tmp_path):
    a = make_run(tmp_path, "a", {"x-db": 1.0, "y-db": 1.0, "only-a": 1.0})
    b = make_run(tmp_path, "b", {"x-db": 1.0, "y-db": 2.0, "only-b": 1.0})
    rows = diff_hotspots(a, b)
    assert {r["cell_id"] for r in rows} == {"x-db", "y-db"}
    assert rows[0]["cell_id"] == "y-db"
    assert all(r["change_ms"] == pytest.approx(0) for r in rows if r["cell_id"] == "x-db")


def test_a_function_present_on_one_side_only(tmp_path):
    a = make_run(tmp_path, "a", {"c": 1.0})
    b = tmp_path / "b"
    write_raw(
        b / "cells/c/r0/profiles/1-00000.json",
        [("GET /db", 1.0, [(["view", "cache_get"], 0.001)])] * 2,
    )
    rows = {r["function"]: r for r in diff_hotspots(a, b)}
    assert rows["fetch"]["ms_b"] == 0.0 and rows["fetch"]["line_b"] is None
    assert rows["cache_get"]["ms_a"] == 0.0 and rows["cache_get"]["change_pct"] is None
