"""Query-string parsing that never raises: hostile input becomes a bounded number.

TechEmpower's rule for ``queries``: not a number or below 1 counts as 1, above 500 as 500.
The other workload parameters follow the same idea with their own bounds, so a request
can never ask for unbounded work, and no input reaches SQL except as a bound integer.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[+-]?\d+")


def clamp_int(raw: str | None, *, default: int, low: int, high: int) -> int:
    """``raw`` as an int within ``low..high``; ``default`` when it is not an integer."""
    if raw is None:
        return default
    text = raw.strip()
    try:
        value = int(text, 10)
    except ValueError:
        if _DIGITS.fullmatch(text):  # an integer too long to convert: huge either way
            return low if text.startswith("-") else high
        return default
    return max(low, min(high, value))


def strict_int(raw: str | None, *, default: int, low: int, high: int | None = None) -> int | None:
    """``raw`` as an int within bounds, ``default`` when absent, None when invalid (a 400)."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        return None
    if value < low or (high is not None and value > high):
        return None
    return value


QUERIES = {"default": 1, "low": 1, "high": 500}
CPU_N = {"default": 10_000, "low": 1, "high": 1_000_000}
UPSTREAM_CALLS = {"default": 1, "low": 1, "high": 20}
UPSTREAM_DELAY_MS = {"default": 0, "low": 0, "high": 1_000}
# calls x delay: a sync worker waits for all of it, so one request may hold it 2 s at most
UPSTREAM_TOTAL_MS = 2_000


def upstream_params(calls_raw: str | None, delay_raw: str | None) -> tuple[int, int]:
    """``(calls, delay_ms)`` for /upstream, each clamped, the delay lowered so that
    ``calls * delay_ms <= UPSTREAM_TOTAL_MS``; the response body states what was done."""
    calls = clamp_int(calls_raw, **UPSTREAM_CALLS)
    delay_ms = clamp_int(delay_raw, **UPSTREAM_DELAY_MS)
    return calls, min(delay_ms, UPSTREAM_TOTAL_MS // calls)
