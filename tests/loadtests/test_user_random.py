"""``--bench-seed``: two Locusts given one seed draw the same choices, user by user.

Importing Locust patches the process (gevent): the draws run in a Python of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DRAWS = """
import json, sys
from types import SimpleNamespace
from loadtests.options import _new_test, user_random

out = []
for seed in sys.argv[1:]:
    env = SimpleNamespace(parsed_options=SimpleNamespace(bench_seed=seed))
    _new_test()  # a test starts: its users count from 0 again
    users = [user_random(env) for _ in range(3)]
    out.append([[rng.randrange(13) for _ in range(50)] for rng in users])
print(json.dumps(out))
"""


def _draws(*seeds: str) -> list[list[list[int]]]:
    done = subprocess.run(
        [sys.executable, "-c", DRAWS, *seeds],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_one_seed_gives_every_locust_the_same_sequences() -> None:
    side_a, side_b, next_pair, plain_a, plain_b = _draws("7:3", "7:3", "7:4", "", "")
    assert side_a == side_b  # a pair's two segments: the same routes, user by user
    assert side_a[0] != side_a[1]  # the users of one Locust do not repeat each other
    assert next_pair != side_a  # the next pair: other draws
    assert plain_a != plain_b  # without a seed, every user draws afresh
