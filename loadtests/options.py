"""The ``--bench-*`` options the recorder adds to Locust, and how the recorder reads them.

Registered with Locust's ``init_command_line_parser`` event when this module is first
imported (through ``loadtests.recorder``); all also work with plain ``locust -f``.

``--bench-out DIR``        write ``DIR/recorder.json`` at test stop (unset: record, write nothing)
``--bench-rate R``         open model, R req/s for the whole generator (0: closed model)
``--bench-shape NAME``     constant (plain -u/-r/-t), step or spike (``loadtests/shapes.py``)
``--bench-warmup S``       written into recorder.json as ``warmup_s``; nothing is dropped
``--bench-per-test``       every test started (web UI) writes ``DIR/test-NNN/`` afresh
``--bench-think-ms MS``    closed model think time between a user's requests (default 0)
``--bench-max-inflight N`` open model: drop a due request while N are in flight (per process)
``--bench-max-lag-ms MS``  open model: drop a due request when the scheduler is MS behind
``--bench-seed SEED``      each user draws its choices from its own generator (``user_random``)
"""

from __future__ import annotations

import random
from typing import Any

from locust import events

from loadtests.catalog import SHAPES


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_kw: Any) -> None:
    parser.add_argument(
        "--bench-out",
        default="",
        metavar="DIR",
        help="write recorder.json (per-second HdrHistograms) into DIR when the test stops",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="open model: R requests/s for the whole generator on a fixed schedule, "
        "latency also measured from the intended send time (0: closed model)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-shape",
        choices=SHAPES,
        default="constant",
        help="load shape: constant users, step ramp or spike (uses -u, -r and -t)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-warmup",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="warm-up seconds, only written into recorder.json (the harness excludes them)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-per-test",
        action="store_true",
        default=False,
        help="web UI: every test started writes DIR/test-NNN/recorder.json and starts afresh",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-think-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="closed model: think time between a user's requests (default 0: saturating)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-max-inflight",
        type=int,
        default=1000,
        metavar="N",
        help="open model: a due request is dropped while N are in flight (per process)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--bench-max-lag-ms",
        type=float,
        default=1000.0,
        metavar="MS",
        help="open model: a due request is dropped when the schedule is more than MS behind",
        include_in_web_ui=False,
    )

    parser.add_argument(
        "--bench-seed",
        default="",
        metavar="SEED",
        help="each user draws its random choices from a generator seeded with SEED and the "
        "order it started in: two Locusts given one seed send the same requests",
        include_in_web_ui=False,
    )


class _Started:
    """Users started in the current test (a test's users start in order, from 0)."""

    count = 0


@events.test_start.add_listener
def _new_test(**_kw: Any) -> None:
    _Started.count = 0


def user_random(environment: Any) -> random.Random:
    """The random generator of a user starting now. With ``--bench-seed`` (or the
    ``bench_seed`` of a test started through the web API) it is seeded with the seed and
    the user's start order, so that two Locusts given one seed draw the same sequence,
    user by user: ``ab`` gives both sides of a pair one seed, and a pair's two segments
    then request the same mix of routes instead of two random ones (on a 13-route app the
    mix alone spread a pair's merged figures by 8%). Without a seed, a fresh one."""
    seed = str(option(environment, "bench_seed", "") or "")
    index = _Started.count
    _Started.count += 1
    return random.Random(f"{seed}:{index}") if seed else random.Random()


def option(environment: Any, name: str, default: Any = None) -> Any:
    """A ``--bench-*`` value; ``default`` where Locust parsed none (a Recorder made by a test)."""
    opts = getattr(environment, "parsed_options", None)
    return getattr(opts, name, default) if opts is not None else default
