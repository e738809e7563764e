"""Fixtures shared by every test: nothing may outlive a test."""

from __future__ import annotations

import os

import psutil
import pytest

from harness.processes import live_children


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
