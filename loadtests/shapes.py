"""Load shapes chosen with ``--bench-shape``: ``constant`` (plain Locust), ``step``, ``spike``.

Locust uses the first ``LoadTestShape`` subclass it finds in a locustfile for every
run, and then ignores ``-t`` in headless mode. So no shape class here is visible to
Locust (``abstract = True``): the recorder installs one on the environment in its
``init`` listener only when ``--bench-shape`` asks for it. ``constant`` installs none,
so a locustfile behaves exactly as plain Locust (``-u``, ``-r``, ``-t``).

Shapes read ``-u`` (peak users), ``-r`` (spawn rate) and ``-t`` (run time) and end the
test at ``-t`` themselves.
"""

from __future__ import annotations

import math
from typing import Any

from locust import LoadTestShape

DEFAULT_STEPS = 4
STAGE_S_WITHOUT_RUN_TIME = 10.0  # stage length when no -t was given


class BenchShape(LoadTestShape):
    abstract = True
    use_common_options = True

    def __init__(self, users: int, spawn_rate: float, run_time: float | None) -> None:
        super().__init__()
        self.users = max(1, int(users))
        self.spawn_rate = float(spawn_rate) if spawn_rate else float(self.users)
        self.run_time = float(run_time) if run_time else None

    def users_at(self, t: float) -> tuple[int, float]:
        raise NotImplementedError

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if self.run_time is not None and t >= self.run_time:
            return None
        return self.users_at(t)


class StepShape(BenchShape):
    """``steps`` equal stages, stage k (1..steps) running ``users * k / steps`` users."""

    abstract = True

    def __init__(
        self, users: int, spawn_rate: float, run_time: float | None, steps: int = DEFAULT_STEPS
    ) -> None:
        super().__init__(users, spawn_rate, run_time)
        self.steps = max(1, min(steps, self.users))
        self.stage_s = (self.run_time / self.steps) if self.run_time else STAGE_S_WITHOUT_RUN_TIME

    def users_at(self, t: float) -> tuple[int, float]:
        stage = min(self.steps, int(t // self.stage_s) + 1)
        return max(1, math.ceil(self.users * stage / self.steps)), self.spawn_rate


class SpikeShape(BenchShape):
    """A quarter of the users, all of them during the middle fifth of the run, a quarter again.

    The spike spawns at ``max(-r, users)`` per second, so it arrives within a second.
    """

    abstract = True

    def __init__(self, users: int, spawn_rate: float, run_time: float | None) -> None:
        super().__init__(users, spawn_rate, run_time)
        self.base = max(1, self.users // 4)
        total = self.run_time if self.run_time else 5 * STAGE_S_WITHOUT_RUN_TIME
        self.spike_from = 0.4 * total
        self.spike_to = 0.6 * total

    def users_at(self, t: float) -> tuple[int, float]:
        if self.spike_from <= t < self.spike_to:
            return self.users, max(self.spawn_rate, float(self.users))
        return self.base, max(self.spawn_rate, float(self.users))


def make_shape(name: str, environment: Any) -> BenchShape | None:
    """The shape for ``--bench-shape name`` (None for constant: Locust's own -u/-r/-t)."""
    if name in (None, "", "constant"):
        return None
    opts = environment.parsed_options
    users = getattr(opts, "num_users", None) or 1
    spawn_rate = getattr(opts, "spawn_rate", None) or users
    run_time = getattr(opts, "run_time", None)
    if name == "step":
        return StepShape(users, spawn_rate, run_time)
    if name == "spike":
        return SpikeShape(users, spawn_rate, run_time)
    raise ValueError(f"--bench-shape: unknown shape '{name}'; choose constant, step or spike")
