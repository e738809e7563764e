"""Reading nginx's access log: which instance answered each request (``read_access_log``,
``requests_per_upstream``), the last address of a failover (``upstream_that_answered``).
The log's format is written by ``harness.stack.nginx`` (``ACCESS_LOG_FIELDS``).
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness.stack.nginx import ACCESS_LOG_FIELDS


@dataclass(frozen=True)
class AccessRecord:
    """One line of the access log. Times in seconds; ``None`` where nginx wrote ``-``."""

    status: int
    method: str
    uri: str
    upstream_addrs: tuple[str, ...]  # every instance tried, in order
    upstream_statuses: tuple[str, ...]
    request_time: float
    upstream_response_time: float | None

    @property
    def upstream(self) -> str:
        """The instance that answered (the last one tried), or ``"-"`` for none."""
        return self.upstream_addrs[-1] if self.upstream_addrs else "-"


def upstream_that_answered(upstream_addr: str) -> str:
    """The last address of an ``$upstream_addr`` value (or ``X-Upstream`` header); ``-``: none."""
    addrs = _split_upstream(upstream_addr)
    return addrs[-1] if addrs else "-"


def _split_upstream(value: str) -> tuple[str, ...]:
    # ", " separates retries, " : " internal redirects; "-" means no instance was tried
    parts = re.split(r", | : ", value.strip())
    return tuple(p for p in parts if p and p != "-")


def _seconds(value: str) -> float | None:
    # several attempts: "0.001, 0.004"; the last belongs to the instance that answered
    last = value.rsplit(",", 1)[-1].rsplit(":", 1)[-1].strip()
    try:
        return float(last)
    except ValueError:
        return None


def read_access_log(access_log: Path) -> list[AccessRecord]:
    """Every complete line of an access log written with the ``bench`` format."""
    records: list[AccessRecord] = []
    with contextlib.suppress(FileNotFoundError), Path(access_log).open(errors="replace") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # nginx is writing it right now
            values = line.rstrip("\n").split("\t")
            if len(values) != len(ACCESS_LOG_FIELDS):
                continue
            row = dict(zip(ACCESS_LOG_FIELDS, values, strict=True))
            try:
                status = int(row["status"])
                request_time = float(row["request_time"])
            except ValueError:
                continue
            records.append(
                AccessRecord(
                    status=status,
                    method=row["request_method"],
                    uri=row["request_uri"],
                    upstream_addrs=_split_upstream(row["upstream_addr"]),
                    upstream_statuses=_split_upstream(row["upstream_status"]),
                    request_time=request_time,
                    upstream_response_time=_seconds(row["upstream_response_time"]),
                )
            )
    return records


def requests_per_upstream(access_log: Path) -> dict[str, int]:
    """Requests per instance address (``"127.0.0.1:8001"``) that answered them.

    A request that failed over counts once, for the instance that finally answered;
    requests no instance answered count under ``"-"``. A missing log gives ``{}``.
    nginx writes a line just after sending the response, so read the log after nginx
    stopped for exact totals (while it runs, the last few requests may be missing).
    """
    return dict(Counter(record.upstream for record in read_access_log(access_log)))
