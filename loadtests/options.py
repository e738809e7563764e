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
"""

from __future__ import annotations

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


def option(environment: Any, name: str, default: Any = None) -> Any:
    """A ``--bench-*`` value; ``default`` where Locust parsed none (a Recorder made by a test)."""
    opts = getattr(environment, "parsed_options", None)
    return getattr(opts, name, default) if opts is not None else default
