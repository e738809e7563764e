"""Where the time went: a summary row's per-endpoint ``breakdown`` from the Server-Timing parts.

Pure, like ``runfolder.figures``: recorder.json's per-window ``timing`` (see
``loadtests/servertiming.py``) in, figures out. Each part's percentiles come from its
own merged histogram: the p99 of ``db`` is the p99 of the database time of the
requests, not the database time of the p99 request, so parts do not add up to the
client's p99. What they tell is which part reaches furthest into the tail:
``dominant`` is the part (queue, db, up, tpl, other) with the largest p99 and
``tail_share`` each part's p99 as a share of the client latency's p99.

CPU per request (``cpu_figures``): the request thread's CPU time the server sent, beside
the breakdown rather than in it (CPU overlaps every part of the wall time): p50 and p99
from its histogram, the mean exact from the sums the recorder kept; where the server
could not measure it, the reasons it gave, with how many responses gave each.

N+1: an endpoint is flagged when its queries per request grow with the size of its
answers (correlation of queries and body bytes >= 0.9 over requests whose query
count varies) or when its median request runs more than ``QUERY_THRESHOLD`` queries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from loadtests import histograms as H
from loadtests import servertiming as ST
from runfolder.window import SteadyWindow

QUERY_THRESHOLD = 10  # queries per request above which an endpoint is flagged
GROWTH_CORRELATION = 0.9
TAIL_PARTS: tuple[str, ...] = ("queue", "db", "up", "tpl", "other")
PART_NAMES = {
    "queue": "queueing",
    "app": "the app",
    "db": "the database",
    "up": "upstream calls",
    "tpl": "template rendering",
    "other": "the app's own code",
}


class _PartsAcc:
    """One endpoint's timing, merged over windows."""

    def __init__(self) -> None:
        self.hists: dict[str, Any] = {}
        self.count = 0
        self.moments = [0.0] * 6
        self.cpu_n = 0
        self.cpu_sum_us = 0
        self.absent: dict[str, int] = {}

    def add(self, timing: dict[str, Any]) -> None:
        for column, hist in ST.decode_document(timing).items():
            mine = self.hists.get(column)
            if mine is None:
                self.hists[column] = hist
            else:
                H.merge_into(mine, hist)
        self.count += int(timing.get("count", 0))
        for i, v in enumerate(timing.get("moments") or ()):
            self.moments[i] += float(v)
        n, total = timing.get("cpu_sum") or (0, 0)
        self.cpu_n += int(n)
        self.cpu_sum_us += int(total)
        for reason, k in (timing.get("cpu_absent") or {}).items():
            self.absent[str(reason)] = self.absent.get(str(reason), 0) + int(k)

    def merge(self, other: _PartsAcc) -> None:
        for column, hist in other.hists.items():
            mine = self.hists.get(column)
            if mine is None:
                self.hists[column] = ST.new_histogram(column)
                mine = self.hists[column]
            H.merge_into(mine, hist)
        self.count += other.count
        self.moments = [a + b for a, b in zip(self.moments, other.moments, strict=True)]
        self.cpu_n += other.cpu_n
        self.cpu_sum_us += other.cpu_sum_us
        for reason, k in other.absent.items():
            self.absent[reason] = self.absent.get(reason, 0) + k


def _pcts(hist: Any) -> dict[str, float] | None:
    stats = H.summary_ms(hist, (50.0, 99.0))
    if not stats:
        return None
    return {"p50": stats["p50"], "p99": stats["p99"], "mean": stats["mean"]}


def cpu_figures(acc: _PartsAcc) -> dict[str, Any]:
    """``cpu_ms`` (count, p50, p99, mean in ms; None: no response had a figure) and
    ``cpu_absent`` (reason -> responses without a figure; None: every one had it)."""
    cpu = None
    hist = acc.hists.get(ST.CPU)
    if acc.cpu_n and hist is not None and H.total_count(hist):
        stats = _pcts(hist) or {}
        cpu = {
            "count": acc.cpu_n,
            "p50": stats.get("p50"),
            "p99": stats.get("p99"),
            "mean": round(acc.cpu_sum_us / acc.cpu_n / 1000.0, 4),
        }
    return {"cpu_ms": cpu, "cpu_absent": dict(sorted(acc.absent.items())) or None}


def absent_text(absent: dict[str, int] | None) -> str:
    """``{"gevent": 1200}`` -> ``absent: gevent`` (reasons by how many responses gave them)."""
    if not absent:
        return ""
    return "absent: " + ", ".join(sorted(absent, key=lambda r: -absent[r]))


def query_growth(moments: list[float]) -> float | None:
    """Correlation of queries per request with body bytes (None: no variation to judge)."""
    n, sq, sb, sqq, sbb, sqb = moments
    if n < 3:
        return None
    var_q = sqq - sq * sq / n
    var_b = sbb - sb * sb / n
    if var_q <= 1e-9 * n or var_b <= 1e-9 * n:
        return None
    return (sqb - sq * sb / n) / math.sqrt(var_q * var_b)


def breakdown_figures(acc: _PartsAcc, latency_p99: float | None) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for column in ST.PARTS:
        hist = acc.hists.get(column)
        if hist is not None and H.total_count(hist):
            parts[column] = _pcts(hist)
    queries = None
    qhist = acc.hists.get(ST.QUERIES)
    if qhist is not None and H.total_count(qhist):
        queries = {
            "min": int(qhist.get_min_value()),
            "p50": int(qhist.get_value_at_percentile(50.0)),
            "p99": int(qhist.get_value_at_percentile(99.0)),
            "max": int(qhist.get_max_value()),
            "mean": round(H.mean_us(qhist), 2),
        }
    shares = {}
    if latency_p99:
        shares = {p: round(parts[p]["p99"] / latency_p99, 3) for p in TAIL_PARTS if p in parts}
    dominant = max(shares, key=lambda p: shares[p]) if shares else None
    growth = query_growth(acc.moments)
    n_plus_one = None
    if queries is not None:
        if growth is not None and growth >= GROWTH_CORRELATION:
            n_plus_one = (
                f"queries per request grow with the answer's size (correlation {growth:.2f}, "
                f"{queries['min']} to {queries['max']} queries): likely N+1"
            )
        elif queries["p50"] > QUERY_THRESHOLD:
            n_plus_one = (
                f"{queries['p50']} queries per request (median, threshold {QUERY_THRESHOLD}): "
                "likely N+1, or batch them"
            )
    return {
        "timed": acc.count,
        "parts": parts,
        "queries": queries,
        "query_growth": round(growth, 3) if growth is not None else None,
        "tail_share": shares,
        "dominant": dominant,
        "n_plus_one": n_plus_one,
    }


def endpoint_accs(recorder: dict[str, Any], window: SteadyWindow) -> dict[str, _PartsAcc]:
    accs: dict[str, _PartsAcc] = {}
    for w in recorder.get("windows", []):
        if not window.contains(int(w["t"])):
            continue
        for name, entry in w.get("endpoints", {}).items():
            if entry.get("timing"):
                accs.setdefault(name, _PartsAcc()).add(entry["timing"])
    return accs


def attach_breakdowns(
    endpoints: dict[str, dict[str, Any]], recorder: dict[str, Any], window: SteadyWindow
) -> None:
    """Add ``breakdown`` and the CPU per request (``cpu_figures``) to every endpoint figure
    that had timed responses, and the CPU per request of them all to ``ALL`` (in place)."""
    total = _PartsAcc()
    for name, acc in endpoint_accs(recorder, window).items():
        figure = endpoints.get(name)
        if figure is None:
            continue
        latency = figure.get("latency_ms") or {}
        figure["breakdown"] = breakdown_figures(acc, latency.get("p99"))
        figure.update(cpu_figures(acc))
        total.merge(acc)
    everything = endpoints.get("ALL")  # runfolder.figures.ALL (which imports this module)
    if everything is not None and total.count:
        everything.update(cpu_figures(total))


def tail_sentence(endpoint: str, breakdown: dict[str, Any]) -> str:
    """``GET /items: queueing dominates the tail (p99 41.2 ms, 83% of the client's p99)``."""
    part = breakdown.get("dominant")
    if part is None:
        return f"{endpoint}: no Server-Timing figures"
    p99 = breakdown["parts"][part]["p99"]
    share = breakdown["tail_share"][part]
    return (
        f"{endpoint}: {PART_NAMES[part]} dominates the tail "
        f"(p99 {p99:.2f} ms, {share:.0%} of the client's p99)"
    )


def load_levels(recorder: dict[str, Any]) -> list[int]:
    """The distinct user counts of a run's windows (offered load levels), ascending."""
    return sorted({int(w["users"]) for w in recorder.get("windows", []) if w.get("users")})


def breakdown_series(
    recorder: dict[str, Any], endpoints: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Per endpoint and load level (users): timed requests and each part's p50/p99 (ms).

    Windows with the same user count are merged (a step shape's steps): the rows a
    report plots against offered load. Only ``endpoints`` are decoded when given.
    """
    wanted = set(endpoints) if endpoints is not None else None
    accs: dict[tuple[str, int], _PartsAcc] = {}
    for w in recorder.get("windows", []):
        users = w.get("users")
        if not users:
            continue
        for name, entry in w.get("endpoints", {}).items():
            if entry.get("timing") and (wanted is None or name in wanted):
                accs.setdefault((name, int(users)), _PartsAcc()).add(entry["timing"])
    rows: list[dict[str, Any]] = []
    for (name, users), acc in sorted(accs.items()):
        rows.append(_parts_row({"endpoint": name, "users": users}, acc))
    return rows


def _parts_row(key: dict[str, Any], acc: _PartsAcc) -> dict[str, Any]:
    """``key`` plus how many requests were timed, each part's p50/p99 present, and the CPU
    per request's p50/p99 and exact mean (``cpu_mean``) when the server sent it."""
    row: dict[str, Any] = {**key, "timed": acc.count}
    for column in (*ST.PARTS, ST.CPU):
        hist = acc.hists.get(column)
        stats = _pcts(hist) if hist is not None else None
        if stats:
            row[f"{column}_p50"] = stats["p50"]
            row[f"{column}_p99"] = stats["p99"]
    if acc.cpu_n:
        row["cpu_mean"] = round(acc.cpu_sum_us / acc.cpu_n / 1000.0, 4)
    return row


def step_series(recorders: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per endpoint and fixed-rate step (a capacity ladder): the rate and each part's p50/p99.

    Each step's recorder output is one test; its warm-up (``warmup_s``) is left out.
    """
    from runfolder.window import steady_window

    rows: list[dict[str, Any]] = []
    for recorder in recorders:
        start, end = float(recorder["start_unix"]), recorder.get("end_unix")
        duration = (float(end) - start) if end else float(len(recorder.get("windows", [])))
        warmup = float(recorder.get("warmup_s") or 0.0)
        window = steady_window(recorder, warmup, max(0.0, duration - warmup))
        rate = float((recorder.get("open_model") or {}).get("rate") or 0.0)
        for name, acc in sorted(endpoint_accs(recorder, window).items()):
            rows.append(_parts_row({"endpoint": name, "rate": rate}, acc))
    return rows
