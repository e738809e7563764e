"""Raw per-request profiles of a run -> per-endpoint hotspots, HTML, speedscope, folded stacks.

``aggregate_run(run_dir)`` reads every raw session file under
``run_dir/cells/<cell_id>/r*/profiles/`` (repetitions of a cell are merged) and
writes ``run_dir/profiles/``: ``hotspots.json``, one pyinstrument HTML page per
cell and endpoint (plus one for its slow tail), ``speedscope.json`` holding one
sampled profile per cell and endpoint, and ``folded/<name>.folded``.

Each request's stacks are trimmed to start at Flask's ``full_dispatch_request``
(the server's frames above it are dropped); frames of this package's middleware are
removed from stacks (their children stay), and samples taken inside pyinstrument
itself (profiler start/stop) are dropped. Identical stacks are summed: the HTML
profile is built from one ``Session`` whose records are the concatenated (and
so merged) records of every request, never by pairwise ``Session.combine``.

Hotspots are sorted by total (inclusive) time per request: it is the figure that
puts the endpoint's own workload (a database call, a template render) at the top,
where self time would scatter it across the driver's or Jinja's leaf frames.
Flask's own dispatch frames (``full_dispatch_request``, ``dispatch_request``), which
contain the view and so the whole endpoint time by construction, are left out of the
table (they stay in the HTML, speedscope and folded outputs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiles.middleware import DEFAULT_INTERVAL, RAW_FORMAT_VERSION, RAW_KIND

log = logging.getLogger(__name__)

HOTSPOTS_FORMAT_VERSION = 1
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
MAX_HOTSPOTS = 200
_LEAF_ONLY = frozenset({"[await]", "[out-of-context]", "[self]"})
# time a gevent request spent switched out (other greenlets ran), placed under the
# deepest call common to the request's samples just before and just after it: the
# blocking call lies between those two samples
OUT_OF_CONTEXT = "[out-of-context]"
MIN_HOTSPOT_PCT = 0.1
# Flask's dispatch frames contain the view (and so everything) by construction
_STEM_FUNCTIONS = frozenset({"full_dispatch_request", "dispatch_request"})
_STEM_FILE_SUFFIX = os.sep.join(("", "flask", "app.py"))
_MIDDLEWARE_SUFFIX = os.sep.join(("", "profiles", "middleware.py"))
_PYINSTRUMENT_PART = os.sep + "pyinstrument" + os.sep


@dataclass
class _Function:
    identifier: str
    name: str  # with the class name when pyinstrument saw one: "Query.all"
    file: str  # as recorded (absolute)
    short_file: str
    line: int
    stem_candidate: bool
    frame_info: str  # identifier plus the class-name attribute, for pyinstrument's renderers


@dataclass
class _Request:
    wall_ms: float
    cpu_ms: float
    samples: dict[int, float]  # stack id -> seconds


@dataclass
class _Endpoint:
    requests: list[_Request] = field(default_factory=list)
    start: float = float("inf")


class _Tables:
    """Functions and stacks shared by every cell and endpoint of the run."""

    def __init__(self) -> None:
        self.functions: list[_Function] = []
        self.function_ids: dict[str, int] = {}
        self.stacks: list[tuple[int, ...]] = []
        self.stack_ids: dict[tuple[int, ...], int] = {}
        self._stack_sets: list[frozenset[int]] = []
        self.sys_path: list[str] = []

    def function_id(self, frame_info: str, sys_path: list[str]) -> int:
        identifier, _, attrs = frame_info.partition("\x01")
        fid = self.function_ids.get(identifier)
        if fid is not None:
            return fid
        parts = identifier.split("\x00")
        name = parts[0]
        frame_info_out = identifier
        file = parts[1] if len(parts) > 1 else ""
        try:
            line = int(parts[2]) if len(parts) > 2 else 0
        except ValueError:
            line = 0
        for attr in attrs.split("\x01") if attrs else ():
            if attr.startswith("c") and len(attr) > 1:
                name = f"{attr[1:]}.{name}"
                frame_info_out = f"{identifier}\x01{attr}"
        func = _Function(
            identifier=identifier,
            name=name,
            file=file,
            short_file=_shorten(file, sys_path),
            line=line,
            stem_candidate=parts[0] in _STEM_FUNCTIONS and file.endswith(_STEM_FILE_SUFFIX),
            frame_info=frame_info_out,
        )
        fid = len(self.functions)
        self.functions.append(func)
        self.function_ids[identifier] = fid
        return fid

    def strip_leaf(self, stack: tuple[int, ...]) -> tuple[int, ...]:
        """``stack`` without a trailing pseudo-frame (``[await]``...), which takes no children."""
        while stack and self.functions[stack[-1]].identifier in _LEAF_ONLY:
            stack = stack[:-1]
        return stack

    def stack_id(self, stack: tuple[int, ...]) -> int:
        sid = self.stack_ids.get(stack)
        if sid is None:
            sid = len(self.stacks)
            self.stacks.append(stack)
            self.stack_ids[stack] = sid
            self._stack_sets.append(frozenset(stack))
        return sid

    def stack_set(self, sid: int) -> frozenset[int]:
        return self._stack_sets[sid]


def _shorten(path: str, sys_path: list[str]) -> str:
    """Shortest path relative to a sys.path entry (``targets/common/db.py``, ``flask/app.py``)."""
    if os.sep not in path:
        return path
    best = path
    for entry in sys_path:
        prefix = entry.rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            candidate = path[len(prefix) :]
            if candidate.count(os.sep) < best.count(os.sep):
                best = candidate
    return best


def _frame_kind(frame_info: str) -> int:
    """0: keep, 1: drop the frame but keep its children, 2: drop the whole sample."""
    identifier = frame_info.partition("\x01")[0]
    file = identifier.split("\x00")[1] if "\x00" in identifier else ""
    if _PYINSTRUMENT_PART in file:
        return 2
    if file.endswith(_MIDDLEWARE_SUFFIX):
        return 1
    return 0


def raw_session_files(run_dir: Path) -> dict[str, list[Path]]:
    """cell_id -> raw session files of every repetition."""
    found: dict[str, list[Path]] = {}
    cells = run_dir / "cells"
    if not cells.is_dir():
        return found
    for cell_dir in sorted(p for p in cells.iterdir() if p.is_dir()):
        files = sorted(cell_dir.glob("r*/profiles/*.json"))
        if files:
            found[cell_dir.name] = files
    return found


def read_raw(path: Path) -> dict[str, Any]:
    """One raw session file, checked; raises ValueError when it is not one."""
    with path.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict) or doc.get("kind") != RAW_KIND:
        raise ValueError(f"{path}: not a raw profile session file")
    if doc.get("format_version") != RAW_FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported format_version {doc.get('format_version')}")
    return doc


def iter_pyinstrument_sessions(path: Path) -> Iterator[Any]:
    """Each request of a raw file as a pyinstrument ``Session`` (to render one request)."""
    from pyinstrument.session import Session

    doc = read_raw(path)
    frames, stacks = doc["frames"], doc["stacks"]
    for s in doc["sessions"]:
        records = [([frames[i] for i in stacks[sid]], t) for sid, t in s["samples"]]
        yield Session(
            frame_records=records,
            start_time=s["start"],
            duration=s["duration"],
            min_interval=doc["interval"],
            max_interval=doc["interval"],
            sample_count=len(records),
            start_call_stack=records[0][0][: s["root"]] if records else [],
            target_description=s["endpoint"],
            cpu_time=s["cpu_ms"] / 1000,
            sys_path=doc["sys_path"],
            sys_prefixes=[],
        )


def _load_cell(files: Iterable[Path], tables: _Tables) -> dict[str, _Endpoint]:
    endpoints: dict[str, _Endpoint] = defaultdict(_Endpoint)
    for path in files:
        try:
            doc = read_raw(path)
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            log.warning("profiles: skipping %s (%s)", path, exc)
            continue
        sys_path = doc.get("sys_path") or []
        for entry in sys_path:
            if entry not in tables.sys_path:
                tables.sys_path.append(entry)
        frames: list[str] = doc["frames"]
        kinds = [_frame_kind(f) for f in frames]
        local_fids: list[int | None] = [None] * len(frames)
        raw_stacks: list[list[int]] = doc["stacks"]
        ooc = tables.function_id(OUT_OF_CONTEXT, sys_path)
        cleaned: dict[tuple[int, int], tuple[bool, tuple[int, ...] | None]] = {}
        for s in doc["sessions"]:
            root = int(s.get("root", 0))
            samples: dict[int, float] = {}
            foreign = 0.0  # time while other greenlets ran (gevent), owed to the next own stack
            last_own: tuple[int, ...] | None = None
            for local_sid, seconds in s["samples"]:
                key = (local_sid, root)
                entry = cleaned.get(key)
                if entry is None:
                    entry = cleaned[key] = _clean_stack(
                        raw_stacks[local_sid], root, frames, kinds, local_fids, tables, sys_path
                    )
                own, stack = entry
                if not own:
                    foreign += seconds
                    continue
                if stack is None:
                    continue
                if foreign:
                    where = stack if last_own is None else _common_prefix(last_own, stack)
                    _add(samples, tables, (*tables.strip_leaf(where), ooc), foreign)
                    foreign = 0.0
                _add(samples, tables, stack, seconds)
                last_own = stack
            if foreign and last_own is not None:
                _add(samples, tables, (*tables.strip_leaf(last_own), ooc), foreign)
            ep = endpoints[s["endpoint"]]
            ep.start = min(ep.start, s.get("start", ep.start))
            ep.requests.append(_Request(float(s["wall_ms"]), float(s["cpu_ms"]), samples))
    return dict(endpoints)


def _clean_stack(
    raw: list[int],
    root: int,
    frames: list[str],
    kinds: list[int],
    local_fids: list[int | None],
    tables: _Tables,
    sys_path: list[str],
) -> tuple[bool, tuple[int, ...] | None]:
    """(is the sample from the profiled request, its trimmed stack of function ids or None).

    A sample is the request's own when the middleware's frame sits just above the
    trimmed part; under gevent the other greenlets' samples are not.
    """
    if root and (len(raw) <= root or kinds[raw[root - 1]] != 1):
        return False, None
    out: list[int] = []
    for i in raw[root:]:
        kind = kinds[i]
        if kind == 2:
            return True, None
        if kind == 1:
            continue
        fid = local_fids[i]
        if fid is None:
            fid = local_fids[i] = tables.function_id(frames[i], sys_path)
        out.append(fid)
    return True, (tuple(out) if out else None)


def _common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def _add(samples: dict[int, float], tables: _Tables, stack: tuple[int, ...], t: float) -> None:
    sid = tables.stack_id(stack)
    samples[sid] = samples.get(sid, 0.0) + t


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _merged_stacks(requests: list[_Request]) -> dict[int, float]:
    merged: dict[int, float] = defaultdict(float)
    for req in requests:
        for sid, t in req.samples.items():
            merged[sid] += t
    return merged


def hotspot_table(requests: list[_Request], tables: _Tables) -> list[dict[str, Any]]:
    """Per function: self and total ms per request, % of the endpoint's time, share."""
    n = len(requests)
    if n == 0:
        return []
    merged = _merged_stacks(requests)
    grand = sum(merged.values())
    if grand <= 0:
        return []
    self_t: dict[int, float] = defaultdict(float)
    total_t: dict[int, float] = defaultdict(float)
    for sid, t in merged.items():
        stack = tables.stacks[sid]
        self_t[stack[-1]] += t
        for fid in tables.stack_set(sid):
            total_t[fid] += t
    seen: Counter[int] = Counter()
    for req in requests:
        if req.samples:
            seen.update(frozenset().union(*(tables.stack_set(sid) for sid in req.samples)))
    rows = []
    for fid, total in total_t.items():
        pct = 100.0 * total / grand
        func = tables.functions[fid]
        if pct < MIN_HOTSPOT_PCT or func.stem_candidate:
            continue
        rows.append(
            {
                "function": func.name,
                "file": func.short_file,
                "line": func.line,
                "self_ms": round(1000.0 * self_t.get(fid, 0.0) / n, 4),
                "total_ms": round(1000.0 * total / n, 4),
                "pct": round(pct, 2),
                "share": round(seen[fid] / n, 4),
            }
        )
    rows.sort(key=lambda r: (-r["total_ms"], -r["self_ms"], r["function"]))
    return rows[:MAX_HOTSPOTS]


_SLUG = re.compile(r"[^a-z0-9]+")


def safe_name(cell_id: str, endpoint: str) -> str:
    """A file name for one cell and endpoint, unique even when slugs collide."""
    slug = _SLUG.sub("_", endpoint.lower()).strip("_") or "endpoint"
    digest = hashlib.sha1(f"{cell_id}\n{endpoint}".encode()).hexdigest()[:6]
    return f"{_SLUG.sub('-', cell_id.lower()).strip('-')}--{slug}-{digest}"


def _frame_label(func: _Function) -> str:
    where = f" ({func.short_file}:{func.line})" if func.short_file else ""
    return f"{func.name}{where}".replace(";", ":").replace("\n", " ")


def folded_lines(merged: dict[int, float], tables: _Tables) -> list[str]:
    """Brendan Gregg's folded format, weights in microseconds."""
    labels: dict[int, str] = {}
    lines = []
    for sid, t in merged.items():
        us = round(t * 1e6)
        if us <= 0:
            continue
        parts = []
        for fid in tables.stacks[sid]:
            label = labels.get(fid)
            if label is None:
                label = labels[fid] = _frame_label(tables.functions[fid])
            parts.append(label)
        lines.append(f"{';'.join(parts)} {us}")
    lines.sort()
    return lines


def _html(merged: dict[int, float], tables: _Tables, title: str, start: float) -> str:
    from pyinstrument.renderers import HTMLRenderer
    from pyinstrument.session import Session

    records = []
    for sid, t in merged.items():
        records.append(([tables.functions[f].frame_info for f in tables.stacks[sid]], t))
    records.sort(key=lambda r: r[0])
    total = sum(t for _, t in records)
    session = Session(
        frame_records=records,
        start_time=start if start != float("inf") else 0.0,
        duration=total,
        min_interval=DEFAULT_INTERVAL,
        max_interval=DEFAULT_INTERVAL,
        sample_count=len(records),
        start_call_stack=[records[0][0][0]] if records else ["<empty>"],
        target_description=title,
        cpu_time=0.0,
        sys_path=tables.sys_path,
        sys_prefixes=[],
    )
    return HTMLRenderer(resample_interval=0).render(session)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def aggregate_run(run_dir: Path) -> Path:
    """Write ``run_dir/profiles/`` from the raw sessions; returns ``hotspots.json``'s path."""
    run_dir = Path(run_dir)
    out = run_dir / "profiles"
    tables = _Tables()
    cells: dict[str, dict[str, _Endpoint]] = {}
    for cell_id, files in raw_session_files(run_dir).items():
        endpoints = _load_cell(files, tables)
        if endpoints:
            cells[cell_id] = endpoints

    doc: dict[str, Any] = {"format_version": HOTSPOTS_FORMAT_VERSION, "cells": {}}
    speedscope_profiles: list[dict[str, Any]] = []
    used_frames: dict[int, int] = {}
    for cell_id in sorted(cells):
        cell_out: dict[str, Any] = {}
        for endpoint in sorted(cells[cell_id]):
            ep = cells[cell_id][endpoint]
            reqs = ep.requests
            walls = [r.wall_ms for r in reqs]
            p95 = percentile(walls, 0.95)
            tail = [r for r in reqs if r.wall_ms > p95]
            name = safe_name(cell_id, endpoint)
            merged = _merged_stacks(reqs)
            files: dict[str, str | None] = {"html": None, "tail_html": None, "folded": None}
            if merged:
                title = f"{endpoint} ({cell_id}, {len(reqs)} requests)"
                _write_text(out / f"{name}.html", _html(merged, tables, title, ep.start))
                files["html"] = f"profiles/{name}.html"
                _write_text(
                    out / "folded" / f"{name}.folded",
                    "\n".join(folded_lines(merged, tables)) + "\n",
                )
                files["folded"] = f"profiles/folded/{name}.folded"
                speedscope_profiles.append(
                    _speedscope_profile(f"{cell_id} {endpoint}", merged, tables, used_frames)
                )
            tail_merged = _merged_stacks(tail)
            if tail_merged:
                title = f"{endpoint} slow tail > p95 {p95:.2f} ms ({cell_id}, {len(tail)} requests)"
                _write_text(out / f"{name}_tail.html", _html(tail_merged, tables, title, ep.start))
                files["tail_html"] = f"profiles/{name}_tail.html"
            cell_out[endpoint] = {
                "profiled_requests": len(reqs),
                "wall_ms_mean": round(sum(walls) / len(reqs), 4) if reqs else 0.0,
                "cpu_ms_mean": round(sum(r.cpu_ms for r in reqs) / len(reqs), 4) if reqs else 0.0,
                "p95_wall_ms": round(p95, 4),
                "tail_requests": len(tail),
                "hotspots": hotspot_table(reqs, tables),
                "tail_hotspots": hotspot_table(tail, tables),
                "files": files,
            }
        doc["cells"][cell_id] = {"endpoints": cell_out}

    frames_out = [None] * len(used_frames)
    for fid, idx in used_frames.items():
        func = tables.functions[fid]
        frame: dict[str, Any] = {"name": func.name}
        if func.short_file:
            frame["file"] = func.short_file
            frame["line"] = func.line
        frames_out[idx] = frame
    speedscope = {
        "$schema": SPEEDSCOPE_SCHEMA,
        "name": f"{run_dir.name}: profiled requests per endpoint",
        "exporter": "flask-bench profiles.aggregate",
        "activeProfileIndex": 0,
        "shared": {"frames": frames_out},
        "profiles": speedscope_profiles,
    }
    _write_text(out / "speedscope.json", json.dumps(speedscope, separators=(",", ":")))
    doc["speedscope"] = "profiles/speedscope.json"
    path = out / "hotspots.json"
    _write_text(path, json.dumps(doc, indent=1))
    return path


def _speedscope_profile(
    name: str, merged: dict[int, float], tables: _Tables, used_frames: dict[int, int]
) -> dict[str, Any]:
    """A "sampled" profile: one sample per unique stack, weighted in milliseconds.

    No filter threshold: every frame is kept, however small.
    """
    samples: list[list[int]] = []
    weights: list[float] = []
    for sid in sorted(merged, key=lambda s: tables.stacks[s]):
        stack = []
        for fid in tables.stacks[sid]:
            idx = used_frames.get(fid)
            if idx is None:
                idx = used_frames[fid] = len(used_frames)
            stack.append(idx)
        samples.append(stack)
        weights.append(round(merged[sid] * 1000.0, 6))
    return {
        "type": "sampled",
        "name": name,
        "unit": "milliseconds",
        "startValue": 0,
        "endValue": round(sum(weights), 6),
        "samples": samples,
        "weights": weights,
    }
