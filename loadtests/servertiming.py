"""The recorder's side of ``Server-Timing``: each response's parts into per-window histograms.

No locust import here (the harness's tests use it directly). ``profiles/timing.py``
writes the header; this module reads it on the recorder's hot path, where it costs a
header parse and a list append: values are recorded into histograms once a second
(``TimingBuffer.flush``, batched through numpy), not per request.

Parts, in microseconds, per endpoint and window (``docs/architecture.md``, "The recorder"):

- ``app``, ``db``, ``up``, ``tpl``: the server's own figures; a part the server did not
  send is absent (its app cannot see it), never zero.
- ``queue``: the time before the app started. With the server on this machine (the
  target's host is loopback) client and server share a clock: the server's ``start``
  minus the client's send time. Otherwise the server's ``queue`` part (nginx's
  ``X-Request-Start``) when sent, else client latency minus ``app``.
- ``other``: ``app`` less the parts the app could see (its own code, serialization ...).
- ``cpu``: the request thread's CPU time, when the server sends it as a number. A
  server that cannot measure it per request sends ``cpu;desc="absent: <reason>"``
  (gevent, an async view ...): no value then, and the reason is counted
  (``TimingBuffer.absent``) so the summary can say why. Its exact count and sum travel
  beside the histogram (``cpu_sum``): the mean is exact, not read off buckets. Not a
  part of ``app``'s wall time: CPU overlaps every part.
- ``queries``: cursor executions per request (a count, not a duration), and the sums
  that relate it to the response's size (``moments``: n, Σq, Σb, Σq², Σb², Σqb, with b
  the body length in bytes): queries that grow with the page are an N+1 pattern.
"""

from __future__ import annotations

import re
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtests import histograms as H

HEADER = "Server-Timing"
PARTS: tuple[str, ...] = ("queue", "app", "db", "up", "tpl", "other")
APP_PARTS: tuple[str, ...] = ("db", "up", "tpl", "other")  # app = their sum
CPU = "cpu"
QUERIES = "queries"
COLUMNS: tuple[str, ...] = (*PARTS, CPU, QUERIES)  # queries last: TimingBuffer.add reads it
_CPU_COLUMN = COLUMNS.index(CPU)
ABSENT = -1  # a column the server did not send
# a cpu column below ABSENT: the server said why it has no figure, the reason at
# ``_REASONS[ABSENT - value - 1]`` (interned per process; the wire carries the text)
OTHER_REASON = "other"
_REASONS: list[str] = [OTHER_REASON]
MAX_REASONS = 32
# 2 significant digits: a breakdown needs 1%, and the histograms encode 3x faster
SIGNIFICANT_FIGURES = 2
QUERIES_HIGHEST = 1_000_000
_LOOPBACK = ("127.", "localhost", "[::1]", "::1")
# one entry: name, optional ;dur=N, optional ;desc=V or ;desc="V"
_ENTRY = re.compile(r'([\w-]+)(?:;dur=([0-9.]+))?(?:;desc="?([^",;]*)"?)?')
_CPU_ABSENT = re.compile(r'(?:^|[\s,])cpu;desc="?absent: ?([^",;]*)')


def new_part_histogram() -> HdrHistogram:
    return HdrHistogram(H.LOWEST_US, H.HIGHEST_US, SIGNIFICANT_FIGURES)


def new_queries_histogram() -> HdrHistogram:
    return HdrHistogram(1, QUERIES_HIGHEST, SIGNIFICANT_FIGURES)


def new_histogram(column: str) -> HdrHistogram:
    return new_queries_histogram() if column == QUERIES else new_part_histogram()


def same_clock(host: str | None) -> bool:
    """True when the target runs on this machine (its ``start`` is on the client's clock)."""
    if not host:
        return False
    rest = host.split("://", 1)[-1]
    return rest.startswith(_LOOPBACK)


def parse(value: str) -> dict[str, float]:
    """``app;dur=1.2, db;dur=0.5;desc="n=3", start;desc="1764..."`` -> {"app": 1.2, ...}.

    Durations in ms; ``db`` also gives ``queries``; ``start`` is unix seconds. Entries
    this project does not write are ignored.
    """
    out: dict[str, float] = {}
    for name, dur, desc in _ENTRY.findall(value):  # one C-level scan: the recorder's hot path
        try:
            if dur:
                out[name] = float(dur)
            if desc:
                if name == "start":  # unix µs (or seconds, from other servers)
                    start = float(desc)
                    out["start"] = start / 1e6 if start > 1e14 else start
                elif name == "db" and desc.startswith("n="):
                    out[QUERIES] = float(desc[2:])
        except ValueError:
            continue
    return out


def absent_reason(header: str) -> str | None:
    """Why the server sent no ``cpu`` figure (``cpu;desc="absent: gevent"`` -> "gevent")."""
    if "cpu;desc=" not in header:
        return None
    m = _CPU_ABSENT.search(header)
    return m.group(1).strip() or OTHER_REASON if m else None


def reason_code(reason: str) -> int:
    """The cpu column's value for an absent ``reason`` (below ``ABSENT``)."""
    try:
        index = _REASONS.index(reason)
    except ValueError:
        if len(_REASONS) >= MAX_REASONS:  # a server inventing reasons: "other" from here
            index = 0
        else:
            _REASONS.append(reason)
            index = len(_REASONS) - 1
    return ABSENT - 1 - index


def code_reason(code: int) -> str:
    return _REASONS[ABSENT - 1 - code]


def row(header: str, latency_ms: float, sent_unix: float | None, clock: bool) -> tuple | None:
    """One response's columns (``COLUMNS`` order) in µs (queries: a count); -1 = absent.

    The cpu column below -1 codes the reason the server gave for sending none
    (``reason_code``).
    """
    parts = parse(header)
    app = parts.get("app")
    if app is None:
        return None
    start = parts.get("start")
    queue = None
    if clock and start is not None and sent_unix is not None:
        queue = (start - sent_unix) * 1000.0
        if not -1.0 <= queue <= latency_ms:  # not one clock after all
            queue = None
    if queue is None:
        queue = parts.get("queue")
    if queue is None:
        queue = latency_ms - app
    seen = 0.0
    cols: list[int] = []
    for name in ("db", "up", "tpl"):
        dur = parts.get(name)
        if dur is None:
            cols.append(-1)
        else:
            seen += dur
            cols.append(int(dur * 1000.0 + 0.5))
    n = parts.get(QUERIES)
    cpu = parts.get(CPU)
    if cpu is not None:
        cpu_col = int(cpu * 1000.0 + 0.5)
    else:
        reason = absent_reason(header)
        cpu_col = ABSENT if reason is None else reason_code(reason)
    return (
        max(0, int(queue * 1000.0 + 0.5)),
        int(app * 1000.0 + 0.5),
        *cols,
        max(0, int((app - seen) * 1000.0 + 0.5)),
        cpu_col,
        -1 if n is None else int(n),
    )


class TimingBuffer:
    """One endpoint in one window: buffered rows, live histograms, or their encoded text."""

    __slots__ = ("absent", "count", "cpu_n", "cpu_sum", "hists", "moments", "rows", "texts")

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.hists: dict[str, HdrHistogram] = {}
        self.texts: dict[str, str] = {}
        self.count = 0  # timed responses, rows included
        self.moments: list[float] | None = None  # see the module docstring
        self.cpu_n = 0  # responses with a cpu figure, and their sum in µs (an exact mean)
        self.cpu_sum = 0
        self.absent: dict[str, int] | None = None  # cpu absent: reason -> responses

    def add(self, values: tuple, length: int = 0) -> None:
        self.rows.append(values)
        self.count += 1
        cpu = values[_CPU_COLUMN]
        if cpu >= 0:
            self.cpu_n += 1
            self.cpu_sum += cpu
        elif cpu < ABSENT:
            reason = code_reason(cpu)
            absent = self.absent
            if absent is None:
                absent = self.absent = {}
            absent[reason] = absent.get(reason, 0) + 1
        q = values[-1]
        if q >= 0:
            m = self.moments
            if m is None:
                m = self.moments = [0.0] * 6
            m[0] += 1
            m[1] += q
            m[2] += length
            m[3] += q * q
            m[4] += length * length
            m[5] += q * length

    def _live(self, column: str) -> HdrHistogram:
        h = self.hists.get(column)
        if h is None:
            text = self.texts.pop(column, None)
            h = self.hists[column] = H.decode(text) if text else new_histogram(column)
        return h

    def flush(self) -> None:
        """Record the buffered rows into the histograms."""
        if not self.rows:
            return
        import numpy as np

        table = np.asarray(self.rows, dtype=np.int64)
        self.rows = []
        for i, column in enumerate(COLUMNS):
            values = table[:, i]
            values = values[values >= 0]
            if values.size:
                H.record_many_us(self._live(column), values)

    def compact(self) -> None:
        self.flush()
        for column, h in self.hists.items():
            self.texts[column] = H.encode(h)
        self.hists = {}

    def encoded(self) -> dict[str, str]:
        self.flush()
        out = dict(self.texts)
        for column, h in self.hists.items():
            out[column] = H.encode(h)
        return {c: out[c] for c in COLUMNS if c in out}

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "count": self.count,
            "hists": self.encoded(),
            "moments": self.moments,
        }
        if self.cpu_n:
            wire["cpu_sum"] = [self.cpu_n, self.cpu_sum]
        if self.absent:
            wire["cpu_absent"] = dict(sorted(self.absent.items()))
        return wire

    def merge_wire(self, wire: dict[str, Any]) -> None:
        self.flush()
        for column, text in (wire.get("hists") or {}).items():
            if column in COLUMNS and text:
                H.merge_into(self._live(column), H.decode(text))
        self.count += int(wire.get("count", 0))
        moments = wire.get("moments")
        if moments:
            mine = self.moments if self.moments is not None else [0.0] * 6
            self.moments = [a + float(b) for a, b in zip(mine, moments, strict=True)]
        n, total = wire.get("cpu_sum") or (0, 0)
        self.cpu_n += int(n)
        self.cpu_sum += int(total)
        for reason, k in (wire.get("cpu_absent") or {}).items():
            absent = self.absent if self.absent is not None else {}
            absent[str(reason)] = absent.get(str(reason), 0) + int(k)
            self.absent = absent


def decode_document(timing: dict[str, Any] | None) -> dict[str, HdrHistogram]:
    """recorder.json's ``timing`` of one endpoint and window -> {column: histogram}."""
    if not timing:
        return {}
    return {c: H.decode(t) for c, t in (timing.get("hists") or {}).items() if c in COLUMNS}
