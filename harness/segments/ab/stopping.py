"""When ``ab`` stops: after a pair from the minimum on, once decided; or at a limit.

``ab`` looks after every pair once ``min_pairs`` pairs are in: the CLI's ``decided``
callback (the comparison's statistics over the rows so far, paired by ``side`` and
``repetition``) says whether every gated metric has a verdict, or none left undecided could
get one from more pairs. Looking after every pair is only honest with a test built for
repeated looks (a sequential test: ``reports/``); the rule here only says *when* to ask.

It also stops at ``max_pairs`` pairs, or before a pair that would end after ``max_time``
seconds counted from the command's start (servers, warm-up and checks included: what a CI
job waits for). A pair's length is estimated as the mean of the pairs so far, and
``FINISH_S`` is kept for what follows the last pair (stopping the servers, the report and
the comparison files).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runfolder.errors import ConfigError

MAX_PAIRS = 60
MAX_TIME_S = 300.0
FINISH_S = 10.0  # after the last pair: servers stopped, report and comparison written


@dataclass(frozen=True)
class StoppingRule:
    min_pairs: int
    max_pairs: int = MAX_PAIRS
    max_time: float = MAX_TIME_S

    def __post_init__(self) -> None:
        if self.min_pairs < 1:
            raise ConfigError(f"ab needs at least one pair, got a minimum of {self.min_pairs}")
        if self.max_pairs < self.min_pairs:
            raise ConfigError(
                f"--max-repeat must be at least {self.min_pairs} (the pairs any verdict "
                f"needs), got {self.max_pairs}"
            )
        if self.max_time <= 0:
            raise ConfigError("--max-time must be > 0, e.g. 5m")

    def after_pair(
        self, pairs: int, elapsed: float, measuring: float, decided: Callable[[], bool]
    ) -> str | None:
        """Why to stop after ``pairs`` pairs (None: go on). ``elapsed``: seconds since the
        command started; ``measuring``: seconds the pairs took so far; ``decided`` is asked
        only from the minimum on."""
        if pairs >= self.min_pairs and decided():
            return f"nothing left to decide after {pairs} pair(s)"
        if pairs >= self.max_pairs:
            return f"--max-repeat {self.max_pairs} reached"
        if elapsed + measuring / pairs + FINISH_S > self.max_time:
            return f"--max-time {self.max_time:g}s reached after {pairs} pair(s)"
        return None
