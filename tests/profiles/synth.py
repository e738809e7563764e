"""Hand-made raw session files with known stacks, for aggregation and diff tests."""

from __future__ import annotations

import json
from pathlib import Path

from profiles.session import RAW_FORMAT_VERSION, RAW_KIND

ROOT = ["MainThread\x00<thread>\x001", "_profiled\x00/srv/profiles/middleware.py\x00300"]
APP = "/srv/app"


def frame(name: str, line: int = 1) -> str:
    """A pyinstrument frame string for function ``name`` in ``/srv/app/app.py``."""
    return f"{name}\x00{APP}/app.py\x00{line}\x01l{line + 1}"


def write_raw(path: Path, requests: list[tuple[str, float, list[tuple[list[str], float]]]]) -> Path:
    """``requests``: (endpoint, wall ms, [(function names root first, seconds)])."""
    frames: dict[str, int] = {}
    stacks: dict[tuple[int, ...], int] = {}
    sessions = []
    for n, (endpoint, wall_ms, samples) in enumerate(requests):
        out = []
        for names, seconds in samples:
            full = [*ROOT, *(frame(x, 10 * (i + 1)) for i, x in enumerate(names))]
            key = tuple(frames.setdefault(f, len(frames)) for f in full)
            out.append([stacks.setdefault(key, len(stacks)), seconds])
        sessions.append(
            {
                "endpoint": endpoint,
                "start": 1000.0 + n,
                "duration": wall_ms / 1000,
                "wall_ms": wall_ms,
                "cpu_ms": wall_ms / 2,
                "status": 200,
                "forced": False,
                "async": False,
                "root": len(ROOT),
                "samples": out,
            }
        )
    doc = {
        "format_version": RAW_FORMAT_VERSION,
        "kind": RAW_KIND,
        "pid": 1,
        "written": 0.0,
        "interval": 0.0001,
        "mode": "threads",
        "sys_path": [APP],
        "frames": list(frames),
        "stacks": [list(s) for s in stacks],
        "sessions": sessions,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path
