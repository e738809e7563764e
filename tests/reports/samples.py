"""Names of the committed sample run folders (tests/data/runs)."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "runs"

DEFAULT = "20261127T030000Z_default"
PROFILED = "20261127T031000Z_profiled"
PROFILED_SLOW = "20261127T031500Z_profiled-slow"
OPEN = "20261127T032000Z_open"
STEP = "20261127T033000Z_step"
HOSTILE = "20261127T034000Z_hostile"
CORRUPT = "20261127T035000Z_corrupt"
HALF = "20261127T035500Z_halfwritten"
REG_A, REG_B = "20261127T040100Z_regression-a", "20261127T040100Z_regression-b"
SAME_A, SAME_B = "20261127T040300Z_same-a", "20261127T040300Z_same-b"
SINGLE_A, SINGLE_B = "20261127T040500Z_single-a", "20261127T040500Z_single-b"
