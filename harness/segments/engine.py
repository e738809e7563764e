"""Fixed-rate steps on a live stack through ONE persistent Locust.

Starting Locust costs 1-2 s of a 2-core machine; a capacity search runs ten or more
short steps, ``ab`` a hundred short segments. So Locust starts once per stack (or pair
of stacks), headful on 127.0.0.1 with the recorder in ``--bench-per-test`` mode, and
every step is a test started and stopped through Locust's web API: ``POST /swarm``
with the step's ``bench_rate`` (Locust copies form fields onto its parsed options, so
the open-model schedule of that test uses it), then ``GET /stop``; the recorder writes
``steps/test-NNN/recorder.json``, which is the step's raw data in the run folder.

A step at rate 0 is a closed-model test: ``--users`` users each send their next request
when the last one returned (``loadtests/openmodel.py`` starts no schedule then), so its
throughput is what the server sustains at that concurrency. A Stepper made with
``open_model=False`` starts Locust without a schedule, so scenarios that keep per-user
sessions (``browse``), which the open model refuses, can run closed-model steps too;
``harness/segments/pairs.py`` builds ``ab``'s pairs of segments on it.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.load.loadgen import locust_web_argv
from harness.segments.capacity.search import Step
from harness.stack.monitor import CpuMonitor
from harness.stack.processes import Child, Supervisor, free_port, tail, wait_http_ready
from harness.stack.servers import Stack
from runfolder import figures, hdr
from runfolder.errors import ProcessError
from runfolder.health import generator_health
from runfolder.window import SteadyWindow, steady_window

RECORDER_WAIT_S = 30.0


@dataclass(frozen=True)
class Pending:
    """A step started on a Stepper and not yet finished."""

    rate: float
    warmup: float
    duration: float
    folder: Path
    end: float  # unix time its last measured second ends


def together(
    steps: list[tuple[Stepper, float, float, float, str | None]], seed: str = ""
) -> list[tuple[Step, Path]]:
    """Steps ``(stepper, rate, warmup, duration, url)`` of different Steppers run at the
    same time: all started, then all finished; results in the order given. Whatever the
    machine does during them (another tenant's burst, a slower CPU) hits them alike.
    ``seed``: every step's users draw their choices from it (``--bench-seed``), so the
    steps send the same sequence of requests."""
    pending = [(s, s.start(rate, w, d, url, seed)) for s, rate, w, d, url in steps]
    return [s.finish(p) for s, p in pending]


class Stepper:
    """Run steps against one or more stacks (the ``host`` of each step is sent with it,
    so the two sides of a study share one Locust); start with ``open()``.

    ``open_model``: Locust starts on the open model (every step then needs a scenario
    whose users hold no session); without it only closed-model steps (rate 0) run."""

    def __init__(
        self,
        sup: Supervisor,
        stacks: list[Stack],
        workload: Any,
        out_dir: Path,
        *,
        users: int,
        cpus: tuple[int, ...] | None,
        open_model: bool = True,
    ) -> None:
        self.sup, self.stacks, self.workload = sup, stacks, workload
        self.open_model = open_model
        self.out_dir = out_dir
        self.users = max(1, users)
        self.cpus = cpus
        self.tests = 0
        self.locust: Child | None = None
        self.monitor: CpuMonitor | None = None
        self.web = ""
        self.argv: list[str] = []

    def open(self) -> Stepper:
        port = free_port()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # open model from the start (each step sets its own rate), or the closed model
        # for good; a short drain at a stop
        step_flags = ("--stop-timeout", "2", "--bench-rate", "1" if self.open_model else "0")
        self.argv = locust_web_argv(
            locustfile=self.workload.locustfile,
            user_classes=self.workload.user_classes,
            extra=(*self.workload.extra_args, *step_flags),
            host=self.stacks[0].url,
            web_port=port,
            users=self.users,
            spawn_rate=self.users * 20,
            tests_dir=self.out_dir.resolve(),
        )
        self.locust = self.sup.start(
            "locust (steps)",
            self.argv,
            cwd=self.out_dir,
            log_path=self.out_dir / "locust.log",
            cpus=self.cpus,
        )
        self.web = f"http://127.0.0.1:{port}"
        wait_http_ready(self.locust, self.web + "/", timeout=30)
        locust = self.locust
        self.monitor = CpuMonitor(
            lambda: [locust.pid],
            lambda: [c.pid for s in self.stacks for c in s.server_side()],
            generator_cpus=self.cpus,
        )
        self.monitor.start()
        return self

    def close(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor.write_csv(self.out_dir / "cpu.csv")
        if self.locust is not None:
            self.sup.stop(self.locust)

    def _call(self, path: str, form: dict[str, Any] | None = None) -> None:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        with urllib.request.urlopen(self.web + path, data=data, timeout=10) as resp:
            resp.read()

    def run(
        self, rate: float, warmup: float, duration: float, url: str | None = None
    ) -> tuple[Step, Path]:
        """One step: ``rate`` req/s (0: the closed model) to ``url`` (default: the first
        stack) for ``warmup + duration`` s; its Step and its raw folder."""
        return self.finish(self.start(rate, warmup, duration, url))

    def start(
        self, rate: float, warmup: float, duration: float, url: str | None = None, seed: str = ""
    ) -> Pending:
        """Start a step and return at once (``finish`` waits for it): steps of several
        Steppers started one after the other run at the same time (``together``); with
        ``seed``, its users' random choices are drawn from it (``--bench-seed``)."""
        assert self.locust is not None, "open() first"
        if rate > 0 and not self.open_model:
            raise ValueError("an open-model step on a Stepper made with open_model=False")
        self.tests += 1
        folder = self.out_dir / f"test-{self.tests:03d}"
        asked = time.time()
        self._call(
            "/swarm",
            {
                "user_count": self.users,
                "spawn_rate": self.users * 20,
                "host": url or self.stacks[0].url,
                "bench_rate": f"{rate:g}",
                "bench_warmup": f"{warmup:g}",
                "bench_seed": seed,
            },
        )
        # the measured seconds are whole recorder windows: from the first whole second
        # after the warm-up, ``duration`` of them, then stop just after the last one
        end = math.ceil(asked + warmup) + math.ceil(duration) + 0.15
        return Pending(rate, warmup, duration, folder, end)

    def finish(self, pending: Pending) -> tuple[Step, Path]:
        """Wait for a started step's end, stop it, read its results."""
        assert self.locust is not None, "open() first"
        while time.time() < pending.end:
            self._check_alive()
            time.sleep(min(0.2, max(0.0, pending.end - time.time())))
        self._call("/stop", {})
        deadline = time.monotonic() + RECORDER_WAIT_S
        path = pending.folder / "recorder.json"
        while not path.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise ProcessError(
                    f"Locust wrote no step results within {RECORDER_WAIT_S:.0f}s: "
                    f"{tail(self.locust.log_path, 1)}"
                )
            time.sleep(0.05)
        recorder = json.loads(path.read_text())
        cpu = self.monitor.rows if self.monitor else []
        gen_cpus = len(self.cpus) if self.cpus else None
        step = step_from_recorder(
            recorder, cpu, pending.rate, pending.warmup, pending.duration, gen_cpus
        )
        return step, pending.folder

    def _check_alive(self) -> None:
        dead = [c for s in self.stacks for c in s.dead()]
        if self.locust is not None and not self.locust.alive():
            dead.append(self.locust)
        if dead:
            raise ProcessError(
                f"{dead[0].describe_exit()} during a step: {tail(dead[0].log_path, 1)}"
            )


def step_from_recorder(
    recorder: dict[str, Any],
    cpu_rows: list[dict[str, float]],
    rate: float,
    warmup: float,
    duration: float,
    generator_cpus: int | None = None,
) -> Step:
    """A step's figures from its recorder.json: corrected latencies of the measured seconds."""
    # the step ran to just past the ``duration``-th whole second after its warm-up (see
    # Stepper.run): with a start at a fraction of a second, that span has one more second
    window = steady_window(recorder, warmup, math.ceil(duration) + 1.0)
    endpoints, _ = figures.summarize_endpoints(recorder, window)
    total = endpoints.get(figures.ALL, {})
    lat = total.get("corrected_latency_ms") or total.get("latency_ms") or {}
    start = float(recorder["start_unix"])
    # the generator's own saturation (its busiest process, its processes together) ends a
    # search; CPUs kept busy by other programs are noted in the row, not judged per step
    own = [
        {k: v for k, v in r.items() if k != "generator_cpus_busy_pct"}
        for r in cpu_rows
        if start + window.first <= r["t"] <= start + window.last + 1
    ]
    health, _ = generator_health(recorder, own, window, generator_cpus)
    gen_bound = bool(health["generator_saturated"])
    first, last = _thirds_p50(recorder, window)
    return Step(
        rate=rate,
        achieved=float(total.get("rps", 0.0)),
        p50=lat.get("p50"),
        p99=lat.get("p99"),
        errors=float(total.get("error_pct", 0.0)),
        # drops in the measured window only: requests still waiting when a step stops are
        # dropped by the stop itself, not by the server
        dropped=figures.open_drops(recorder, window)["dropped_steady"],
        requests=int(total.get("requests", 0)),
        p50_first=first,
        p50_last=last,
        generator_bound=gen_bound,
        thin="p99" in total.get("thin", ["p99"]),
    )


def _thirds_p50(
    recorder: dict[str, Any], window: SteadyWindow
) -> tuple[float | None, float | None]:
    """p50 (corrected) of the first and the last third of the measured seconds."""
    seconds = list(range(window.first, window.last + 1))
    if len(seconds) < 2:
        return None, None
    third = max(1, len(seconds) // 3)
    by_t = {int(w["t"]): w for w in recorder.get("windows", [])}

    def p50(part: list[int]) -> float | None:
        texts = [
            entry.get("corrected_hist") or entry.get("hist")
            for t in part
            for entry in (by_t.get(t) or {}).get("endpoints", {}).values()
        ]
        return hdr.percentile_ms(hdr.merge_encoded(hdr.new_histogram(), texts), 50.0)

    return p50(seconds[:third]), p50(seconds[-third:])
