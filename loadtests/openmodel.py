"""The open model (``--bench-rate R``): requests on a fixed schedule, as wrk2 sends them.

The generator as a whole sends R requests per second whatever the server does. With
P load processes (``--processes`` / workers), process k of P intends to send its i-th
request at

    intended(i) = t0 + (i * P + k) / R        (t0: when its first user started)

so each process sends R/P per second and the processes interleave. A scheduler
greenlet per process starts every request in its own greenlet at its intended time, so
a slow response never moves the schedule. Users are the *connections* (wrk2's ``-c``):
each idle user carries one request at a time, and a due request takes any idle user.
When all are busy (a server stall), due requests wait for one: their **actual send** is
then later than intended.

Each request carries its intended time in its Locust ``context``; the recorder measures
it twice: from the actual send (Locust's own timer: ``hist``, uncorrected, what a
closed-loop tool reports) and from the intended time (``corrected_hist``: what a client
arriving on schedule waited). During a stall only the requests already on a connection
show it uncorrected; all requests scheduled during it show it corrected.

Counted per process and summed by the master (``open_model`` in recorder.json):

- ``scheduled``: slots that came due; ``sent`` + ``dropped`` = ``scheduled``;
- ``dropped``: a due slot not started because ``--bench-max-inflight`` requests were
  already started or waiting for a connection, or because the scheduler itself was more
  than ``--bench-max-lag-ms`` behind (the generator's CPU could not keep up); each
  drop is also reported, when it happens, to the recorder, which counts it in that
  second's window (``windows[].dropped``: the endpoint is not chosen yet, so it is a
  generator-level count);
- ``late``: a request actually sent more than ``late_after_ms`` after its intended
  time, where ``late_after_ms`` = max(1 ms, one interval of the process's schedule,
  P/R s): it waited for a connection, or the generator fell behind; the sub-millisecond
  jitter of gevent's timers is not counted.

The achieved rate is the count of requests per second in recorder.json's windows;
``open_model.started_unix`` / ``stopped_unix`` (first intended send, end of scheduling,
over all processes) give the schedule's span: ``scheduled / (stopped - started)`` falls
short of R only when the generator's scheduler itself could not keep up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent import Greenlet
from gevent.pool import Group
from gevent.queue import Queue

INTENDED_KEY = "bench_intended"  # request context key: the intended unix send time

logger = logging.getLogger("loadtests.openmodel")


class Schedule:
    """One process's share of the schedule, its connections (idle users) and in-flight requests."""

    def __init__(
        self,
        rate: float,
        processes: int = 1,
        index: int = 0,
        *,
        max_inflight: int = 1000,
        max_lag_s: float = 1.0,
        counters: dict[str, int] | None = None,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.interval = processes / rate
        self.phase = index / rate
        self.late_after_s = max(0.001, self.interval)
        self.max_inflight = max(1, max_inflight)
        self.max_lag_s = max_lag_s
        self.counters = counters if counters is not None else {}
        self.on_drop = on_drop  # called with the count of each drop, when it happens
        for key in ("scheduled", "sent", "late", "dropped"):
            self.counters.setdefault(key, 0)
        self.idle: Queue = Queue()
        self.group = Group()
        self.scheduler: Greenlet | None = None
        self.waiting = 0  # admitted, waiting for a connection (not sent yet)
        self.started_unix: float | None = None
        self.stopped_unix: float | None = None

    # connections ----------------------------------------------------------------------

    def add_user(self, user: Any) -> None:
        """A user (one connection) is ready to carry requests; starts the schedule."""
        user.bench_retired = False
        self.idle.put(user)
        if self.scheduler is None:
            self.scheduler = Greenlet.spawn(self._run)

    def retire_user(self, user: Any) -> None:
        user.bench_retired = True  # dropped from the idle queue when it comes up

    def _acquire(self) -> Any:
        while True:
            user = self.idle.get()
            if not getattr(user, "bench_retired", False):
                return user

    def _release(self, user: Any) -> None:
        if not getattr(user, "bench_retired", False):
            self.idle.put(user)

    # schedule -------------------------------------------------------------------------

    def _run(self) -> None:
        t0 = time.time() + self.phase
        self.started_unix = t0
        i = 0
        while True:
            intended = t0 + i * self.interval
            i += 1
            delay = intended - time.time()
            if delay > 0:
                gevent.sleep(delay)
            if self.admit(intended):
                self.group.spawn(self._send, intended)
            if delay <= 0 and i % 64 == 0:
                gevent.sleep(0)  # behind schedule: let the started requests run too

    def admit(self, intended: float) -> bool:
        """Called when a slot is due: start it (True) or count it dropped (False)."""
        c = self.counters
        c["scheduled"] += 1
        if len(self.group) >= self.max_inflight or time.time() - intended > self.max_lag_s:
            self._dropped(1)
            return False
        self.waiting += 1
        return True

    def _dropped(self, n: int) -> None:
        if n <= 0:
            return
        self.counters["dropped"] += n
        if self.on_drop is not None:
            self.on_drop(n)

    def _send(self, intended: float) -> None:
        user = self._acquire()
        self.waiting -= 1
        self.counters["sent"] += 1
        if time.time() - intended > self.late_after_s:
            self.counters["late"] += 1
        try:
            user.request({INTENDED_KEY: intended})
        except gevent.GreenletExit:
            raise
        except Exception:
            logger.exception("open model: request of %s failed", type(user).__name__)
        finally:
            self._release(user)

    def stop_scheduling(self) -> None:
        if self.scheduler is not None:
            self.scheduler.kill(block=True)
            self.scheduler = None
            self.stopped_unix = time.time()

    def span(self) -> list[float | None]:
        """[first intended send, when scheduling stopped] in unix time (None: not yet)."""
        stopped = self.stopped_unix
        if stopped is None and self.started_unix is not None:
            stopped = time.time()
        return [self.started_unix, stopped]

    def stop(self, timeout: float) -> None:
        """Stop scheduling; let sent requests finish within ``timeout``, then kill them.

        Requests still waiting for a connection when the test stops were never sent:
        they count as dropped, so that ``scheduled == sent + dropped`` always holds.
        """
        self.stop_scheduling()
        deadline = time.monotonic() + timeout
        while len(self.group) > self.waiting and time.monotonic() < deadline:
            gevent.sleep(0.02)
        self._dropped(self.waiting)
        self.waiting = 0
        if len(self.group):
            self.group.kill(block=True, timeout=2)


_schedule: Schedule | None = None


def current() -> Schedule | None:
    return _schedule


def start_schedule(
    environment: Any,
    counters: dict[str, int],
    *,
    processes: int = 1,
    index: int = 0,
    on_drop: Callable[[int], None] | None = None,
) -> Schedule | None:
    """At test start: this process's schedule for ``--bench-rate`` (None: closed model)."""
    global _schedule
    opts = environment.parsed_options
    rate = float(getattr(opts, "bench_rate", 0.0) or 0.0)
    if _schedule is not None:
        _schedule.stop(timeout=0)
    if rate <= 0:
        _schedule = None
        return None
    _schedule = Schedule(
        rate,
        processes,
        index,
        max_inflight=int(getattr(opts, "bench_max_inflight", 1000) or 1000),
        max_lag_s=float(getattr(opts, "bench_max_lag_ms", 1000.0) or 1000.0) / 1000.0,
        counters=counters,
        on_drop=on_drop,
    )
    logger.info(
        "open model: %.6g req/s in all, this process (%d of %d) sends every %.3f ms",
        rate,
        index + 1,
        processes,
        _schedule.interval * 1000,
    )
    return _schedule


def stop_scheduling() -> None:
    """When the test starts stopping: no more requests are scheduled."""
    if _schedule is not None:
        _schedule.stop_scheduling()


def drain(environment: Any) -> None:
    """At test stop: no more sends; in-flight requests get --stop-timeout (at least 2 s)."""
    if _schedule is not None:
        _schedule.stop(timeout=max(2.0, float(getattr(environment, "stop_timeout", 0) or 0)))
