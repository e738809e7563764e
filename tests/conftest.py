"""Fixtures shared by every test: nothing may outlive a test."""

from __future__ import annotations

import os

import psutil
import pytest

from harness.stack.processes import live_children


@pytest.fixture(autouse=True)
def _no_leftover_processes():
    """Fail a test that leaves a child process (server, Locust, nginx ...) running."""
    before = {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}
    yield
    leftovers = [c for c in live_children()]
    for child in leftovers:
        child.stop(grace=1.0)
    stray = [
        p
        for p in psutil.Process(os.getpid()).children(recursive=True)
        if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE
    ]
    for p in stray:
        p.kill()
    assert not leftovers, f"test left children running: {[c.name for c in leftovers]}"
    assert not stray, f"test left processes running: {[p.cmdline()[:3] for p in stray]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """With CI=true a skipped test is a failure: CI must have every dependency."""
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("CI", "").lower() == "true"
        and report.skipped
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true, which needs every dependency: {reason}"
