"""CPU sampling once a second: is the generator or the server the bottleneck?

CPU is measured as the change of each process's user+system time between samples,
in percent of one core. For the generator the busiest single process matters
(Locust is single-threaded per process); for the server the sum does.

``server_cpu_s`` is the server processes' CPU seconds used since the monitor started
(the same per-sample changes summed: a process's time before it was first seen, and
after its last sample, is not in it). A window's CPU is the difference of this counter
at the window's ends, interpolated between samples (``runfolder.figures``), so
windows of a few seconds need not line up with the samples.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

FIELDS = (
    "t",
    "generator_cpu_pct",
    "generator_cpu_max_pct",
    "generator_cpus_busy_pct",
    "server_cpu_pct",
    "server_cpu_s",
    "server_rss_mb",
    "database_cpu_pct",
)


def _tree(pids: list[int]) -> list[psutil.Process]:
    procs: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs[pid] = root
            for child in root.children(recursive=True):
                procs[child.pid] = child
        except psutil.Error:
            continue
    return list(procs.values())


@dataclass
class CpuMonitor:
    """Samples the generator's, the server's and the database's process trees every
    ``interval`` seconds on a background thread."""

    generator_pids: Callable[[], list[int]]
    server_pids: Callable[[], list[int]]
    interval: float = 1.0
    rows: list[dict[str, float]] = field(default_factory=list)
    # the CPUs the generator was pinned to: how busy they were, whoever used them
    generator_cpus: tuple[int, ...] | None = None
    # a database server's processes (PostgreSQL: the postmaster and its backends), apart
    # from the app's: is the database, not the app, the limit?
    database_pids: Callable[[], list[int]] = lambda: []
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _last: dict[int, float] = field(default_factory=dict)
    _server_cpu_s: float = 0.0  # cumulative, see the module docstring

    def start(self) -> CpuMonitor:
        psutil.cpu_percent(percpu=True)  # the first call only sets the baseline
        self._sample(record=False)
        self._thread = threading.Thread(target=self._loop, name="cpu-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample(record=True)

    def _cpu(
        self, procs: list[psutil.Process], elapsed: float
    ) -> tuple[float, float, float, float]:
        """Percent of a core (sum, busiest process), RSS in MB and CPU seconds used."""
        total = peak = rss = seconds = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
                used = times.user + times.system
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
            prev = self._last.get(proc.pid)
            self._last[proc.pid] = used
            if prev is None or elapsed <= 0:
                continue
            delta = max(0.0, used - prev)
            seconds += delta
            pct = delta / elapsed * 100
            total += pct
            peak = max(peak, pct)
        return total, peak, rss / 2**20, seconds

    def _sample(self, record: bool) -> None:
        now = time.monotonic()
        elapsed = now - getattr(self, "_prev_t", now)
        self._prev_t = now
        gen_total, gen_peak, _, _ = self._cpu(_tree(self.generator_pids()), elapsed)
        srv_total, _, srv_rss, srv_seconds = self._cpu(_tree(self.server_pids()), elapsed)
        self._server_cpu_s += srv_seconds
        db_total, _, _, _ = self._cpu(_tree(self.database_pids()), elapsed)
        per_cpu = psutil.cpu_percent(percpu=True)
        ids = [i for i in (self.generator_cpus or range(len(per_cpu))) if i < len(per_cpu)]
        busy = sum(per_cpu[i] for i in ids) / len(ids) if ids else 0.0
        if record:
            self.rows.append(
                {
                    "t": round(time.time(), 3),
                    "generator_cpu_pct": round(gen_total, 1),
                    "generator_cpu_max_pct": round(gen_peak, 1),
                    "generator_cpus_busy_pct": round(busy, 1),
                    "server_cpu_pct": round(srv_total, 1),
                    "server_cpu_s": round(self._server_cpu_s, 3),
                    "server_rss_mb": round(srv_rss, 1),
                    "database_cpu_pct": round(db_total, 1),
                }
            )

    def write_csv(self, path: Path, offset: float = 0.0) -> None:
        """Write samples; ``t`` (unix time) minus ``offset`` lines up with the recorder's clock."""
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=FIELDS)
            writer.writeheader()
            for row in self.rows:
                writer.writerow({**row, "t": round(row["t"] - offset, 3)})
