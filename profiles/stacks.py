"""A run's profiled requests as shared function and stack tables, stacks trimmed.

``load_cell`` reads one cell's raw session files (``profiles.session``) into
per-endpoint requests whose samples index the run's ``Tables``: one entry per distinct
function and per distinct stack, shared by every cell and endpoint, so identical stacks
are summed by id and each output (``profiles.aggregate``, ``profiles.export``,
``reports.attribution``) reads the same numbers.

Each request's stacks are trimmed to start at Flask's ``full_dispatch_request``
(the server's frames above it are dropped); frames of this package's middleware
(``middleware.py`` and ``async_views.py``) are removed from stacks (their children
stay), and samples taken inside pyinstrument itself (profiler start/stop) are dropped.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from profiles.session import read_raw

log = logging.getLogger(__name__)

_LEAF_ONLY = frozenset({"[await]", "[out-of-context]", "[self]"})
# time a gevent request spent switched out (other greenlets ran), placed under the
# deepest call common to the request's samples just before and just after it: the
# blocking call lies between those two samples
OUT_OF_CONTEXT = "[out-of-context]"
# Flask's dispatch frames contain the view (and so everything) by construction
_STEM_FUNCTIONS = frozenset({"full_dispatch_request", "dispatch_request"})
_STEM_FILE_SUFFIX = os.sep.join(("", "flask", "app.py"))
# the middleware's own frames: its wrappers around dispatch and around async views
_MIDDLEWARE_SUFFIXES = tuple(
    os.sep.join(("", "profiles", name)) for name in ("middleware.py", "async_views.py")
)
_PYINSTRUMENT_PART = os.sep + "pyinstrument" + os.sep


@dataclass
class Function:
    """One function of the run, as the tables, the hotspot rows and the exporters name it."""

    identifier: str
    name: str  # with the class name when pyinstrument saw one: "Query.all"
    file: str  # as recorded (absolute)
    short_file: str
    line: int
    stem_candidate: bool
    frame_info: str  # identifier plus the class-name attribute, for pyinstrument's renderers


@dataclass
class ProfiledRequest:
    """One profiled request: its measured times and its trimmed samples."""

    wall_ms: float
    cpu_ms: float
    samples: dict[int, float]  # stack id -> seconds


@dataclass
class EndpointProfiles:
    """The profiled requests of one cell and endpoint, every repetition merged."""

    requests: list[ProfiledRequest] = field(default_factory=list)
    start: float = float("inf")


class Tables:
    """Functions and stacks shared by every cell and endpoint of the run."""

    def __init__(self) -> None:
        self.functions: list[Function] = []
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
        func = Function(
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
    if file.endswith(_MIDDLEWARE_SUFFIXES):
        return 1
    return 0


def load_cell(files: Iterable[Path], tables: Tables) -> dict[str, EndpointProfiles]:
    endpoints: dict[str, EndpointProfiles] = defaultdict(EndpointProfiles)
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
            ep.requests.append(ProfiledRequest(float(s["wall_ms"]), float(s["cpu_ms"]), samples))
    return dict(endpoints)


def _clean_stack(
    raw: list[int],
    root: int,
    frames: list[str],
    kinds: list[int],
    local_fids: list[int | None],
    tables: Tables,
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


def _add(samples: dict[int, float], tables: Tables, stack: tuple[int, ...], t: float) -> None:
    sid = tables.stack_id(stack)
    samples[sid] = samples.get(sid, 0.0) + t


def merged_stacks(requests: list[ProfiledRequest]) -> dict[int, float]:
    merged: dict[int, float] = defaultdict(float)
    for req in requests:
        for sid, t in req.samples.items():
            merged[sid] += t
    return merged
