"""What weakens a comparison, said beside its verdicts: flags a side's own measurement raised
(``row_reasons``, ``cpu_missing``) make a figure undecided, and differences of machine,
Python, packages, configuration or pinning between two runs are warned about
(``environment_warnings``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from reports.comparison import CPU, figure
from runfolder.figures import ALL
from runfolder.reader import Run

MACHINE_KEYS = ("hostname", "cpu_model", "cpus", "memory_gb", "os")
CONFIG_IGNORED = {"name", "out", "repeat"}


def cpu_missing(rows: list[dict[str, Any]], side: str, endpoint: str) -> list[str]:
    """Why repetitions of a side have no CPU figure: the server's reason, or none sent."""
    found: dict[str, int] = {}
    for row in rows:
        e = row["endpoints"].get(endpoint)
        if not e or figure(row, endpoint, CPU) is not None:
            continue
        if endpoint == ALL:
            why = "no server CPU samples (an external --host?)"
        elif e.get("cpu_absent"):
            why = "CPU per request absent: " + ", ".join(sorted(e["cpu_absent"]))
        else:
            why = "no CPU per request (no Server-Timing cpu part)"
        found[why] = found.get(why, 0) + 1
    return [f"{side} {why} in {n} of {len(rows)} repetition(s)" for why, n in found.items()]


def row_reasons(
    rows: list[dict[str, Any]], side: str, endpoint: str, metric: str, paired: bool = False
) -> list[str]:
    """Why a side's figures cannot decide ``metric``: flags the measurement itself raised.

    A thin percentile (few samples above it) cannot decide a comparison of repetitions
    taken one at a time, but in ``paired`` comparisons it does not block: each pair's
    ratio of two thin percentiles is noisy, and the interval over the pairs counts that
    noise (the spread of the pairs), so it only takes more pairs.

    A repetition without a steady window has no figures at all: it lowers the count of
    repetitions instead (``_per_rep`` skips it). A route verify left out on one side only
    has no value there, so its endpoint is undecided.
    """
    found: dict[str, int] = {}
    for row in rows:
        warnings = [str(w) for w in row.get("warnings") or []]
        flags = []
        if row.get("generator_bound"):
            flags.append("generator-bound")
        if int((row.get("open_model") or {}).get("dropped") or 0) or any(
            "dropped" in w for w in warnings
        ):
            flags.append("dropped open-model requests")
        verify = str(row.get("verify") or "passed")  # "passed ...", "skipped: ..." or a failure
        if not verify.startswith(("passed", "skipped")) or any(
            "verify failed" in w for w in warnings
        ):
            flags.append("failed verify")
        thin = (row["endpoints"].get(endpoint) or {}).get("thin") or []
        if not paired and metric in thin:
            flags.append(f"{metric} is thin (fewer than 10 samples above it)")
        for flag in flags:
            found[flag] = found.get(flag, 0) + 1
    return [f"{side} {flag} in {n} of {len(rows)} repetition(s)" for flag, n in found.items()]


def _diff_dicts(a: dict[str, Any], b: dict[str, Any], ignore: Collection[str] = ()) -> list[str]:
    keys = sorted((set(a) | set(b)) - set(ignore))
    return [f"{k} {a.get(k)!r} → {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]


def environment_warnings(base: Run, cand: Run) -> list[str]:
    out = []
    ma, mb = base.meta.get("machine") or {}, cand.meta.get("machine") or {}
    diff = [d for d in _diff_dicts(ma, mb) if d.split(" ", 1)[0] in MACHINE_KEYS]
    if diff:
        out.append(f"{cand.name} ran on a different machine: {'; '.join(diff)}")
    if base.meta.get("python") != cand.meta.get("python"):
        out.append(f"{cand.name}: Python {base.meta.get('python')} → {cand.meta.get('python')}")
    diff = _diff_dicts(base.meta.get("packages") or {}, cand.meta.get("packages") or {})
    if diff:
        out.append(f"{cand.name}: package versions differ: {'; '.join(diff)}")
    diff = _diff_dicts(base.meta.get("config") or {}, cand.meta.get("config") or {}, CONFIG_IGNORED)
    if diff:
        out.append(f"{cand.name}: configuration differs: {'; '.join(diff)}")
    if (base.meta.get("pinning") or {}) != (cand.meta.get("pinning") or {}):
        out.append(f"{cand.name}: CPU pinning differs")
    return out
