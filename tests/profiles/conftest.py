"""Fixtures for the profiling tests: no profiler may outlive a test."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pyinstrument.stack_sampler import active_profiler_context_var, get_stack_sampler

from profiles.middleware import profiler_of


@pytest.fixture(autouse=True)
def _no_profiler_left_running():
    yield
    assert get_stack_sampler().subscribers == [], "a pyinstrument profiler is still subscribed"
    assert active_profiler_context_var.get() is None, "a profiler still owns this context"
    flushers = [t for t in threading.enumerate() if t.name == "bench-profile-flusher"]
    assert not flushers, "a session flusher thread was left running (call close_app)"


def flush(app) -> list[Path]:
    """Write the app's buffered sessions now; the files written so far."""
    prof = profiler_of(app)
    assert prof is not None
    prof.sink.flush()
    return sorted(prof.out_dir.glob("*.json"))


def close_app(app) -> None:
    """Stop the app's flusher thread (a server process would do this at exit)."""
    prof = profiler_of(app)
    if prof is not None:
        prof.sink.stop()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """An empty run folder with one cell repetition whose raw profiles go in ``profiles/``."""
    run = tmp_path / "run"
    (run / "cells" / "cell-a" / "r0" / "profiles").mkdir(parents=True)
    return run
