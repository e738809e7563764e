"""The open model (``--bench-rate R``): requests on a fixed schedule, like wrk2.

The generator as a whole sends R requests per second whatever the server does. With
P load processes (``--processes`` / workers), process k of P sends request i at

    intended(i) = t0 + (i * P + k) / R        (t0: when its first user asks for a slot)

so each process sends R/P per second and the processes interleave. Users are only
connection pools: every user loop takes the next slot, sleeps until it is due and
starts the request in its own greenlet, so a slow response never delays the next
send. Each request carries its intended time in its Locust ``context``; the recorder
measures it twice: from the actual send (``hist``, uncorrected) and from the intended
time (``corrected_hist``: what a client arriving on schedule would have waited).

Counted per process and summed by the master (``open_model`` in recorder.json):

- ``scheduled``: slots that came due; ``sent`` + ``dropped`` = ``scheduled``;
- ``dropped``: a due slot not sent because ``--bench-max-inflight`` requests were
  already in flight, or because the schedule was more than ``--bench-max-lag-ms``
  behind (the generator itself could not keep up);
- ``late``: a sent request whose actual start was more than ``late_after_ms`` after its
  intended time, where ``late_after_ms`` = max(1 ms, one interval of the process's
  schedule, P/R s): only a send that slipped past the next slot counts, not the
  sub-millisecond jitter of gevent's timers.

The achieved rate is the count of requests per second in recorder.json's windows.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gevent.pool import Group

logger = logging.getLogger("loadtests.openmodel")


class Schedule:
    """One process's share of the schedule, its in-flight requests and its counters."""

    def __init__(self, rate: float, processes: int = 1, index: int = 0, *,
                 max_inflight: int = 1000, max_lag_s: float = 1.0) -> None:  # fmt: skip
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.interval = processes / rate
        self.phase = index / rate
        self.late_after_s = max(0.001, self.interval)
        self.max_inflight = max(1, max_inflight)
        self.max_lag_s = max_lag_s
        self.t0: float | None = None
        self.next_index = 0
        self.group = Group()

    def next_slot(self) -> float:
        """The intended unix time of the next request of this process."""
        if self.t0 is None:
            self.t0 = time.time() + self.phase
        i = self.next_index
        self.next_index += 1
        return self.t0 + i * self.interval

    def admit(self, intended: float, counters: dict[str, int]) -> bool:
        """Called when a slot is due: send it (True) or count it dropped (False)."""
        counters["scheduled"] += 1
        if len(self.group) >= self.max_inflight or time.time() - intended > self.max_lag_s:
            counters["dropped"] += 1
            return False
        counters["sent"] += 1
        return True


_schedule: Schedule | None = None


def current() -> Schedule | None:
    return _schedule


def start_schedule(environment: Any, *, processes: int = 1, index: int = 0) -> Schedule | None:
    """At test start: the schedule for ``--bench-rate`` (None: closed model)."""
    global _schedule
    opts = environment.parsed_options
    rate = float(getattr(opts, "bench_rate", 0.0) or 0.0)
    if _schedule is not None:
        _schedule.group.kill(block=False)
    if rate <= 0:
        _schedule = None
        return None
    _schedule = Schedule(
        rate,
        processes,
        index,
        max_inflight=int(getattr(opts, "bench_max_inflight", 1000) or 1000),
        max_lag_s=float(getattr(opts, "bench_max_lag_ms", 1000.0) or 1000.0) / 1000.0,
    )
    logger.info(
        "open model: %.6g req/s in all, this process %d of %d sends every %.3f ms",
        rate, index + 1, processes, _schedule.interval * 1000,
    )  # fmt: skip
    return _schedule


def drain(environment: Any) -> None:
    """At test stop: let in-flight requests finish (up to --stop-timeout, at least 2 s)."""
    schedule = _schedule
    if schedule is None or not len(schedule.group):
        return
    timeout = max(2.0, float(getattr(environment, "stop_timeout", 0) or 0))
    schedule.group.join(timeout=timeout)
    if len(schedule.group):
        logger.warning(
            "open model: %d requests still in flight were abandoned", len(schedule.group)
        )
        schedule.group.kill(block=True, timeout=2)


def spawn(schedule: Schedule, fn: Any, *args: Any) -> None:
    schedule.group.spawn(fn, *args)
