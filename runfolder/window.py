"""The steady window: which one-second recorder windows count as measured.

One rule, used when a summary row is made; the row stores the bounds it chose
(``row["steady_window"]``), so no reader works them out again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SteadyWindow:
    """Recorder windows ``first..last`` (inclusive, seconds after ``start_unix``)."""

    first: int
    last: int

    @property
    def seconds(self) -> int:
        return max(0, self.last - self.first + 1)

    def contains(self, t: int) -> bool:
        return self.first <= t <= self.last

    @classmethod
    def of(cls, start_unix: float, warmup: float, duration: float) -> SteadyWindow:
        """Whole seconds after ``warmup`` and within ``duration``, on the recorder's clock."""
        frac = start_unix - math.floor(start_unix)
        first = math.ceil(warmup + frac)
        last = math.floor(warmup + duration + frac - 1)
        return cls(first, last)

    def to_json(self) -> dict[str, int]:
        return {"first": self.first, "last": self.last}

    @classmethod
    def from_json(cls, data: Any) -> SteadyWindow | None:
        """The bounds a row stored; None when absent or malformed (older folders)."""
        if not isinstance(data, dict):
            return None
        first, last = data.get("first"), data.get("last")
        if isinstance(first, int) and isinstance(last, int):
            return cls(first, last)
        return None


def steady_window(recorder: dict[str, Any], warmup: float, duration: float) -> SteadyWindow:
    """The measured windows of one repetition.

    A run that ended early (Ctrl-C, a crash) ends at its last whole window, so
    throughput is not divided by seconds that never happened.
    """
    window = SteadyWindow.of(float(recorder["start_unix"]), warmup, duration)
    seen = [int(w["t"]) for w in recorder.get("windows", [])]
    if seen and max(seen) <= window.last:
        window = SteadyWindow(window.first, max(seen) - 1)  # the last one is partial
    return window
