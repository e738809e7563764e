from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder to run bench.py from, like a user's checkout (runs/ lands inside)."""
    return tmp_path
