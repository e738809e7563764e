"""Sample run folders (tests/data/runs, built by make_samples.py), copied per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.reports.samples import (
    DEFAULT,
    HOSTILE,
    OPEN,
    PROFILED,
    REG_A,
    SAMPLES,
    STEP,
)


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the samples (reports are written into run folders)."""
    out = tmp_path_factory.mktemp("runs")
    for path in SAMPLES.iterdir():
        if path.is_dir():
            shutil.copytree(path, out / path.name, ignore=shutil.ignore_patterns("report.html"))
        else:
            shutil.copy(path, out / path.name)
    return out


@pytest.fixture(scope="session")
def reports(runs_dir: Path) -> dict[str, str]:
    """Each renderable sample's report HTML, built once per session."""
    from reports.report import render_report

    out = {}
    for name in (DEFAULT, PROFILED, OPEN, STEP, HOSTILE, REG_A):
        out[name] = render_report(runs_dir / name).read_text()
    return out


@pytest.fixture
def fresh_run(runs_dir: Path, tmp_path: Path):
    """A private copy of one sample, to damage."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(runs_dir / name, dest)
        return dest

    return copy
