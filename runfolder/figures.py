"""From the recorder's raw windows to the figures people read.

Everything here is pure: ``recorder.json`` (+ ``cpu.csv``) in, summary row and
per-second time series out. Percentiles always come from merged histograms, never
from averaging percentiles.

CPU per request comes two ways: each endpoint's request-thread CPU from Server-Timing
(``runfolder.breakdown.cpu_figures``: ``cpu_ms``, or ``cpu_absent`` with the server's
reason), and the row's ``server_cpu_ms_per_request``: the server processes' CPU over the
steady window (``cpu.csv``'s cumulative ``server_cpu_s``, interpolated at the window's
ends) divided by the requests served in it. The second includes what no request
thread sees (the server's own loop, HTTP parsing, a proxy) and needs no cooperation
from the app, so it holds under gevent and async views too.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from loadtests import histograms as H
from runfolder.breakdown import attach_breakdowns
from runfolder.health import generator_health
from runfolder.window import SteadyWindow, steady_window

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}
MIN_CPU_COVERAGE = 0.5  # of the steady window the CPU samples must span for a figure
THIN_TAIL_SAMPLES = 10
OPEN_MODEL_SHORTFALL = 0.05
ALL = "ALL"


def latency_stats(hist: Any) -> dict[str, float | int] | None:
    """count, min, mean, max and percentiles in ms (µs resolution) of one histogram."""
    return H.summary_ms(hist, PERCENTILES.values())


def samples_above(count: int, q: float) -> int:
    """How many of ``count`` samples lie above percentile ``q``, in exact arithmetic.

    ``1000 * (1 - 90 / 100)`` is 99.99999999999999 in floats; decimals of the percentile's
    written form give exactly 100.
    """
    return int(count * (Decimal(100) - Decimal(str(q))) / Decimal(100))


def thin_percentiles(count: int) -> list[str]:
    """Percentiles that rest on fewer than ``THIN_TAIL_SAMPLES`` samples above them."""
    return [k for k, q in PERCENTILES.items() if samples_above(count, q) < THIN_TAIL_SAMPLES]


class _Acc:
    """Accumulates one endpoint's windows."""

    def __init__(self) -> None:
        self.hist = H.new_histogram()
        self.corrected = H.new_histogram()
        self.has_corrected = False
        self.count = 0
        self.failures: dict[str, int] = {}
        self.profiled = 0

    def add(self, entry: dict[str, Any], hist: Any | None = None) -> None:
        if hist is None and entry.get("hist"):
            hist = H.decode(entry["hist"])
        if hist is not None:
            H.merge_into(self.hist, hist)
        if entry.get("corrected_hist"):
            H.merge_into(self.corrected, H.decode(entry["corrected_hist"]))
            self.has_corrected = True
        self.count += int(entry.get("count", 0))
        for status, n in (entry.get("failures") or {}).items():
            self.failures[str(status)] = self.failures.get(str(status), 0) + int(n)
        self.profiled += int(entry.get("profiled", 0))

    def merge(self, other: _Acc) -> None:
        H.merge_into(self.hist, other.hist)
        if other.has_corrected:
            H.merge_into(self.corrected, other.corrected)
            self.has_corrected = True
        self.count += other.count
        for status, n in other.failures.items():
            self.failures[status] = self.failures.get(status, 0) + n
        self.profiled += other.profiled

    def figures(self, seconds: int) -> dict[str, Any]:
        failed = sum(self.failures.values())
        requests = self.count + failed + self.profiled
        stats = latency_stats(self.hist)
        return {
            "requests": requests,
            "failures": dict(sorted(self.failures.items())),
            "error_pct": round(100 * failed / requests, 3) if requests else 0.0,
            "rps": round(requests / seconds, 2) if seconds else 0.0,
            "profiled": self.profiled,
            "latency_ms": stats,
            "corrected_latency_ms": latency_stats(self.corrected) if self.has_corrected else None,
            "thin": thin_percentiles(stats["count"] if stats else 0),  # type: ignore[arg-type]
        }


def summarize_endpoints(
    recorder: dict[str, Any], window: SteadyWindow
) -> tuple[dict[str, dict[str, Any]], dict[str, _Acc]]:
    accs: dict[str, _Acc] = {}
    for w in recorder.get("windows", []):
        if not window.contains(int(w["t"])):
            continue
        for name, entry in w.get("endpoints", {}).items():
            accs.setdefault(name, _Acc()).add(entry)
    total = _Acc()
    for acc in accs.values():
        total.merge(acc)
    out = {name: accs[name].figures(window.seconds) for name in sorted(accs)}
    if accs:
        out[ALL] = total.figures(window.seconds)
    return out, accs


def read_cpu(path: Path) -> list[dict[str, float]]:
    if not path.exists():
        return []
    with path.open() as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _cumulative_at(samples: list[tuple[float, float]], t: float) -> float:
    """The cumulative counter at ``t``, linear between the samples around it."""
    import bisect

    times = [s[0] for s in samples]
    i = bisect.bisect_left(times, t)
    if i < len(samples) and times[i] == t:
        return samples[i][1]
    (t0, c0), (t1, c1) = samples[i - 1], samples[i]
    return c0 + (c1 - c0) * (t - t0) / (t1 - t0)


def server_cpu_seconds(cpu_rows: list[dict[str, float]], start: float, end: float) -> float | None:
    """The server processes' CPU seconds from ``start`` to ``end`` (``cpu.csv`` times).

    Interpolated at both ends; where the samples cover only part of the span (the
    sampler started late or stopped early), the covered part's rate over the whole
    span, if it covers at least ``MIN_CPU_COVERAGE`` of it; None otherwise, or for
    folders written before ``server_cpu_s`` existed.
    """
    samples = sorted((r["t"], r["server_cpu_s"]) for r in cpu_rows if "server_cpu_s" in r)
    if len(samples) < 2 or end <= start:
        return None
    lo, hi = max(start, samples[0][0]), min(end, samples[-1][0])
    if hi - lo < MIN_CPU_COVERAGE * (end - start):
        return None
    used = _cumulative_at(samples, hi) - _cumulative_at(samples, lo)
    return max(0.0, used) * (end - start) / (hi - lo)


def server_cpu_per_request(
    recorder: dict[str, Any],
    cpu_rows: list[dict[str, float]],
    window: SteadyWindow,
    requests: int,
    *,
    unix: bool = False,
) -> float | None:
    """ms of server CPU per request served in the steady window.

    ``cpu_rows`` as read from ``cpu.csv`` (``t``: seconds after the recorder's
    ``start_unix``), or with ``unix`` the sampler's own rows (``t``: unix time), as a
    segment engine holding one sampler over many recorder outputs has them.
    """
    if requests <= 0 or window.seconds <= 0:
        return None
    start_unix = float(recorder["start_unix"])
    base = float(math.floor(start_unix))  # window t counts from the whole second
    if not unix:
        base -= start_unix
    seconds = server_cpu_seconds(cpu_rows, base + window.first, base + window.last + 1)
    return None if seconds is None else round(seconds * 1000.0 / requests, 4)


def summarize_cell(
    recorder: dict[str, Any],
    cpu_rows: list[dict[str, float]],
    *,
    warmup: float,
    duration: float,
    processes: int = 1,
    generator_cpus: int | None = None,
) -> dict[str, Any]:
    """The figures of one cell repetition (the ``summary.json`` row minus identity fields).

    ``generator_cpus``: how many CPUs the load generator was given (None: unknown).
    """
    window = steady_window(recorder, warmup, duration)
    endpoints, _ = summarize_endpoints(recorder, window)
    attach_breakdowns(endpoints, recorder, window)  # Server-Timing parts, when sent
    served = int(endpoints.get(ALL, {}).get("requests", 0))  # before drops: never served
    server_cpu = server_cpu_per_request(recorder, cpu_rows, window, served)
    steady_cpu = [r for r in cpu_rows if window.first <= r["t"] <= window.last + 1]
    gen_max = max((r["generator_cpu_max_pct"] for r in steady_cpu), default=None)
    gen_mean_peak = (
        sum(r["generator_cpu_max_pct"] for r in steady_cpu) / len(steady_cpu)
        if steady_cpu
        else None
    )
    srv_mean = (
        sum(r["server_cpu_pct"] for r in steady_cpu) / len(steady_cpu) if steady_cpu else None
    )
    db_cpu = [r["database_cpu_pct"] for r in steady_cpu if "database_cpu_pct" in r]
    db_mean = sum(db_cpu) / len(db_cpu) if db_cpu else None
    health, warnings = generator_health(recorder, steady_cpu, window, generator_cpus)
    generator_bound = bool(health["generator_saturated"])
    open_model = recorder.get("open_model")
    if open_model:
        achieved = endpoints.get(ALL, {}).get("rps", 0.0)
        open_model = {**open_model, "achieved_rps": achieved}
        if achieved < (1 - OPEN_MODEL_SHORTFALL) * float(open_model["rate"]):
            generator_bound = True
            warnings.append(
                f"achieved {achieved:.0f} req/s, more than 5% short of --rate "
                f"{float(open_model['rate']):.0f}: the generator or the server could not keep up"
            )
        open_model.update(open_drops(recorder, window))
        if open_model["dropped_steady"]:
            warnings.append(
                f"{open_model['dropped_steady']} scheduled requests were dropped in the steady "
                'window (counted as failures of kind "dropped" of ALL; the corrected '
                "percentiles do not include them): the server stalled or the generator "
                "could not keep up"
            )
            _add_drops(endpoints, open_model["dropped_steady"], window.seconds)
    if window.seconds <= 0:
        warnings.append("no steady-state window: the run was shorter than its warm-up")
    thin = sorted({p for e in endpoints.values() for p in e["thin"]}, key=list(PERCENTILES).index)
    if thin:
        warnings.append(
            f"thin samples: {', '.join(thin)} rest on fewer than "
            f"{THIN_TAIL_SAMPLES} requests for some endpoints"
        )
    return {
        "steady_seconds": window.seconds,
        "steady_window": window.to_json(),
        "generator_bound": generator_bound,
        "generator_cpu_max_pct": gen_max,
        "generator_cpu_mean_peak_pct": round(gen_mean_peak, 1) if gen_mean_peak else gen_mean_peak,
        "server_cpu_mean_pct": round(srv_mean, 1) if srv_mean is not None else None,
        "server_cpu_ms_per_request": server_cpu,
        # a database server's own processes (PostgreSQL), apart from the app's
        "database_cpu_mean_pct": round(db_mean, 1) if db_mean else None,
        **health,
        "open_model": open_model,
        "warnings": warnings,
        "endpoints": endpoints,
    }


def open_drops(recorder: dict[str, Any], window: SteadyWindow) -> dict[str, int]:
    """Open-model drops in the steady window and outside it (warm-up, shutdown)."""
    steady = outside = 0
    for w in recorder.get("windows", []):
        n = int(w.get("dropped") or 0)
        if window.contains(int(w["t"])):
            steady += n
        else:
            outside += n
    return {"dropped_steady": steady, "dropped_outside": outside}


def _add_drops(endpoints: dict[str, dict[str, Any]], dropped: int, seconds: int) -> None:
    """Drops are failures of kind "dropped" of ALL (no endpoint was chosen yet).

    They count in ``requests`` and ``error_pct`` (a dropped request was due and not
    served), not in ``rps``: throughput stays what was answered.
    """
    total = endpoints.setdefault(ALL, _Acc().figures(seconds))
    failures = {**total["failures"], "dropped": dropped}
    total["failures"] = dict(sorted(failures.items()))
    total["dropped"] = dropped
    total["requests"] += dropped
    failed = sum(failures.values())
    total["error_pct"] = round(100 * failed / total["requests"], 3) if total["requests"] else 0.0


TIMESERIES_FIELDS = (
    "t",
    "endpoint",
    "users",
    "requests",
    "failures",
    "rps",
    "p50",
    "p90",
    "p99",
    "p99.9",
    "max",
    "steady",
)


def timeseries_rows(recorder: dict[str, Any], window: SteadyWindow) -> Iterable[dict[str, Any]]:
    """One row per window and endpoint, plus an ``ALL`` row per window."""
    width = float(recorder.get("window_s", 1)) or 1.0
    for w in sorted(recorder.get("windows", []), key=lambda w: w["t"]):
        t = int(w["t"])
        total = _Acc()
        rows = []
        for name, entry in sorted(w.get("endpoints", {}).items()):
            acc = _Acc()
            acc.add(entry)
            total.merge(acc)
            rows.append((name, acc))
        rows.append((ALL, total))
        for name, acc in rows:
            failed = sum(acc.failures.values())
            requests = acc.count + failed + acc.profiled
            stats = latency_stats(acc.hist) or {}
            yield {
                "t": t,
                "endpoint": name,
                "users": w.get("users", ""),
                "requests": requests,
                "failures": failed,
                "rps": round(requests / width, 2),
                **{k: stats.get(k, "") for k in ("p50", "p90", "p99", "p99.9", "max")},
                "steady": int(window.contains(t)),
            }


def write_timeseries(path: Path, recorder: dict[str, Any], window: SteadyWindow) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=TIMESERIES_FIELDS)
        writer.writeheader()
        writer.writerows(timeseries_rows(recorder, window))
