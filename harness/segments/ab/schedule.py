"""The order of the sides inside each pair: randomized, balanced, reproducible.

A fixed A-then-B order lets whatever the position does (the second segment runs on a
machine the first one warmed, a neighbour's periodic job) pass for a difference between
the sides: RMIT (Abedi & Brecht, ICPE 2017) saw two identical systems "differ" by 38% that
way. So each pair's order is drawn at random, in permuted blocks of two: every two pairs
hold one "AB" and one "BA" in a random order, so after any even number of pairs each side
went first equally often, and no long run of one order can happen by chance. The draw
comes from ``--seed`` (a fresh seed when none is given; it is recorded in meta.json), so a
run's order can be replayed.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator

from harness.segments.pairs import ORDERS


def new_seed() -> int:
    return secrets.randbelow(2**31)


def pair_orders(seed: int) -> Iterator[str]:
    """ "AB" / "BA" for pair 0, 1, 2, ... (endless: the stopping rule ends the run)."""
    rng = random.Random(seed)
    while True:
        block = list(ORDERS)
        rng.shuffle(block)
        yield from block
