"""The recorder's in-memory store: one ``Entry`` per endpoint and one-second window.

No locust import: an entry holds latencies (live, or encoded once a window is old),
failures by status, profiled responses and Server-Timing parts, and travels between
processes as ``to_wire`` / ``merge_wire`` (exact merges).
"""

from __future__ import annotations

from typing import Any

from loadtests import histograms as H
from loadtests import servertiming as ST


class Entry:
    """One endpoint in one window: latencies (live or encoded), failures, profiled."""

    __slots__ = (
        "corrected",
        "corrected_text",
        "failures",
        "hist",
        "hist_count",
        "hist_text",
        "profiled",
        "timing",
    )

    def __init__(self) -> None:
        self.hist: Any = None  # live HdrHistogram, or None when held as hist_text
        self.hist_text: str | None = None
        self.hist_count = 0  # samples in hist_text
        self.corrected: Any = None
        self.corrected_text: str | None = None
        self.failures: dict[str, int] = {}
        self.profiled = 0
        self.timing: ST.TimingBuffer | None = None  # Server-Timing parts (servertiming.py)

    # live access (decodes a compacted entry back)
    def live(self) -> Any:
        if self.hist is None:
            self.hist = H.decode(self.hist_text) if self.hist_text else H.new_histogram()
            self.hist_text = None
        return self.hist

    def live_corrected(self) -> Any:
        if self.corrected is None:
            self.corrected = (
                H.decode(self.corrected_text) if self.corrected_text else H.new_histogram()
            )
            self.corrected_text = None
        return self.corrected

    def compact(self) -> None:
        if self.hist is not None:
            self.hist_count = H.total_count(self.hist)
            self.hist_text = H.encode(self.hist)
            self.hist = None
        if self.corrected is not None:
            self.corrected_text = H.encode(self.corrected)
            self.corrected = None
        if self.timing is not None:
            self.timing.compact()

    def hist_encoded(self) -> str:
        if self.hist is not None:
            return H.encode(self.hist)
        return self.hist_text or H.encode(H.new_histogram())

    def corrected_encoded(self) -> str | None:
        if self.corrected is not None:
            return H.encode(self.corrected)
        return self.corrected_text

    def count(self) -> int:
        if self.hist is not None:
            return H.total_count(self.hist)
        return self.hist_count if self.hist_text else 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "hist": self.hist_encoded() if self.hist is not None or self.hist_text else None,
            "corrected_hist": self.corrected_encoded(),
            "failures": self.failures,
            "profiled": self.profiled,
            "timing": self.timing.to_wire() if self.timing is not None else None,
        }

    def merge_wire(self, wire: dict[str, Any]) -> None:
        if wire.get("hist"):
            H.merge_into(self.live(), H.decode(wire["hist"]))
        if wire.get("corrected_hist"):
            H.merge_into(self.live_corrected(), H.decode(wire["corrected_hist"]))
        for status, n in (wire.get("failures") or {}).items():
            self.failures[status] = self.failures.get(status, 0) + int(n)
        self.profiled += int(wire.get("profiled", 0))
        if wire.get("timing"):
            if self.timing is None:
                self.timing = ST.TimingBuffer()
            self.timing.merge_wire(wire["timing"])


Windows = dict[int, dict[str, Entry]]  # unix second -> "METHOD route" -> Entry

OPEN_COUNTERS = ("scheduled", "sent", "late", "dropped")


def failure_key(response: Any, exception: BaseException) -> str:
    """The HTTP status of an error response, else the exception's class name.

    A 2xx/3xx answer that a check rejected (wrong content type, ...) is counted under
    the exception (``CatchResponseError``), not under "200", which would read as success.
    """
    code = getattr(response, "status_code", 0) or 0
    if code >= 400:
        return str(code)
    return type(exception).__name__
