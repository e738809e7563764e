from __future__ import annotations

import json
from pathlib import Path

import pytest

from runfolder import storage
from runfolder.errors import HarnessError, RunFolderError


def test_run_dirs_are_never_reused(tmp_path: Path) -> None:
    a = storage.create_run_dir(tmp_path, "x")
    b = storage.create_run_dir(tmp_path, "x")
    assert a != b and a.is_dir() and b.is_dir()
    assert a.name.endswith("_x")


def test_write_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "meta.json"
    storage.write_json(target, {"a": 1})
    storage.write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_latest_pointer_and_resolve(tmp_path: Path) -> None:
    run = storage.create_run_dir(tmp_path, "r")
    storage.write_json(run / "meta.json", {"status": "complete"})
    storage.set_latest(tmp_path, run)
    assert storage.resolve_run("latest", tmp_path) == run
    assert storage.resolve_run(run.name, tmp_path) == run
    assert storage.resolve_run(str(run), tmp_path) == run


def test_resolve_errors(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="there are no runs in"):
        storage.resolve_run("latest", tmp_path)
    with pytest.raises(RunFolderError, match="no such run folder"):
        storage.resolve_run("missing", tmp_path)
    (tmp_path / "latest").write_text("gone\n")
    with pytest.raises(RunFolderError, match="which is not a folder"):
        storage.resolve_run("latest", tmp_path)


def test_read_json_corrupt(tmp_path: Path) -> None:
    bad = tmp_path / "meta.json"
    bad.write_text("{not json")
    with pytest.raises(RunFolderError, match="corrupt"):
        storage.read_json(bad)


def test_list_runs_flags_corrupt(tmp_path: Path) -> None:
    good = storage.create_run_dir(tmp_path, "good")
    storage.write_json(good / "meta.json", {"status": "complete", "cells": [{}, {}]})
    bad = storage.create_run_dir(tmp_path, "bad")
    (bad / "meta.json").write_text("{")
    rows = {r["name"]: r for r in storage.list_runs(tmp_path)}
    assert rows[good.name]["status"] == "complete" and rows[good.name]["cells"] == 2
    assert rows[bad.name]["status"] == "corrupt"


def test_unwritable_out(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HarnessError, match="--out"):
        storage.create_run_dir(blocker / "runs", "x")
