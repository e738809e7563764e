"""A run's merged profiles as files: pyinstrument HTML pages, speedscope, folded stacks.

Each function takes the merged stacks of one cell and endpoint (stack id -> seconds,
ids into the run's ``profiles.stacks.Tables``); ``profiles.aggregate.aggregate_run``
decides what is written where and lists the files in ``hotspots.json``. The HTML
profile is built from one ``Session`` whose records are the concatenated (and so
merged) records of every request, never by pairwise ``Session.combine``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from profiles.session import DEFAULT_INTERVAL
from profiles.stacks import Function, Tables

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"

_SLUG = re.compile(r"[^a-z0-9]+")


def safe_name(cell_id: str, endpoint: str) -> str:
    """A file name for one cell and endpoint, unique even when slugs collide."""
    slug = _SLUG.sub("_", endpoint.lower()).strip("_") or "endpoint"
    digest = hashlib.sha1(f"{cell_id}\n{endpoint}".encode()).hexdigest()[:6]
    return f"{_SLUG.sub('-', cell_id.lower()).strip('-')}--{slug}-{digest}"


def _frame_label(func: Function) -> str:
    where = f" ({func.short_file}:{func.line})" if func.short_file else ""
    return f"{func.name}{where}".replace(";", ":").replace("\n", " ")


def folded_lines(merged: dict[int, float], tables: Tables) -> list[str]:
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


def html_page(merged: dict[int, float], tables: Tables, title: str, start: float) -> str:
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
    page: str = HTMLRenderer(resample_interval=0).render(session)
    return page


def write_text(path: Path, text: str) -> None:
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


def speedscope_profile(
    name: str, merged: dict[int, float], tables: Tables, used_frames: dict[int, int]
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


def speedscope_document(
    name: str, profiles: list[dict[str, Any]], tables: Tables, used_frames: dict[int, int]
) -> dict[str, Any]:
    """The speedscope file: ``profiles`` and the frames they use, shared."""
    frames_out: list[dict[str, Any] | None] = [None] * len(used_frames)
    for fid, idx in used_frames.items():
        func = tables.functions[fid]
        frame: dict[str, Any] = {"name": func.name}
        if func.short_file:
            frame["file"] = func.short_file
            frame["line"] = func.line
        frames_out[idx] = frame
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "name": name,
        "exporter": "flask-bench profiles.aggregate",
        "activeProfileIndex": 0,
        "shared": {"frames": frames_out},
        "profiles": profiles,
    }
