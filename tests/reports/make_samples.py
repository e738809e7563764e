"""Write the small sample run folders under tests/data/runs/ (deterministic).

    .venv/bin/python tests/reports/make_samples.py

Every folder follows docs/architecture.md: meta.json, summary.json and, per cell
repetition, recorder.json (real HdrHistogram encodings, µs), timeseries.csv and
cpu.csv. Summaries and time series are computed by the harness's own
``runfolder.figures`` so the samples look exactly like what the engine writes.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from loadtests import histograms as H  # noqa: E402
from runfolder import figures, hdr  # noqa: E402

OUT = REPO / "tests" / "data" / "runs"
START = 1_764_212_400.4  # 2026-11-27T03:00:00.4Z
HOSTILE = "<script>alert(1)</script>"

MACHINE = {
    "hostname": "bench-1",
    "cpu_model": "Intel(R) Xeon(R) CPU @ 2.20GHz",
    "cpus": 2,
    "memory_gb": 7.8,
    "os": "Linux-6.1.0-x86_64-with-glibc2.36",
}
PACKAGES = {
    "flask": "3.1.3",
    "werkzeug": "3.1.4",
    "gunicorn": "23.0.0",
    "locust": "2.47.0",
    "hdrhistogram": "0.10.8",
    "pandas": "3.1.1",
    "matplotlib": "3.11.2",
}

Latency = Callable[[random.Random, int], float]  # (rng, t) -> ms


def lognormal(median_ms: float, sigma: float = 0.35) -> Latency:
    return lambda rng, t: median_ms * math.exp(rng.gauss(0, sigma))


def window(
    rng: random.Random,
    t: int,
    users: int,
    endpoints: dict[str, dict[str, Any]],
    corrected: dict[str, Latency] | None = None,
) -> dict[str, Any]:
    out = {}
    for name, spec in endpoints.items():
        n = max(0, round(spec["rps"](t) if callable(spec["rps"]) else spec["rps"]))
        n = max(0, n + rng.randint(-2, 2)) if n > 5 else n
        hist = hdr.new_histogram()
        latency: Latency = spec["latency"]
        for _ in range(n):
            H.record(hist, latency(rng, t))
        fail = {k: v for k, v in (spec.get("failures") or {}).items() if rng.random() < v[1]}
        entry: dict[str, Any] = {
            "count": n,
            "hist": hdr.encode(hist),
            "corrected_hist": None,
            "failures": {k: v[0] for k, v in fail.items()},
            "profiled": spec.get("profiled", 0),
        }
        if corrected and name in corrected:
            c = hdr.new_histogram()
            for _ in range(n):
                H.record(c, corrected[name](rng, t))
            entry["corrected_hist"] = hdr.encode(c)
        out[name] = entry
    return {"t": t, "users": users, "endpoints": out}


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


def make_run(
    name: str,
    cells: list[dict[str, Any]],
    *,
    duration: float = 8,
    warmup: float = 2,
    repeat: int = 1,
    seed: int = 1,
    shape: str = "constant",
    profiled: bool = False,
    rate: float | None = None,
    users: int = 20,
    machine: dict | None = None,
    packages: dict | None = None,
    config_extra: dict | None = None,
    status: str = "complete",
    commit: str = "f82d9e4" + "0" * 33,
) -> Path:
    """A run folder; each cell: target/server/scenario, ``endpoints`` (rep -> spec), cpu."""
    rng = random.Random(seed)
    run_dir = OUT / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    config = {
        "targets": sorted({c["target"] for c in cells}),
        "servers": sorted({c["server"] for c in cells}),
        "scenarios": sorted({c["scenario"] for c in cells}),
        "users": users,
        "spawn_rate": users,
        "rate": rate,
        "shape": shape,
        "duration": duration,
        "warmup": warmup,
        "repeat": repeat,
        "processes": 1,
        "workers": 2,
        "threads": 1,
        "profile": profiled,
        **(config_extra or {}),
    }
    meta_cells = []
    for c in cells:
        c["cell_id"] = f"{c['target']}-{c['server']}-{c['scenario']}"
        meta_cells.append(
            {
                "cell_id": c["cell_id"],
                "target": c["target"],
                "server": c["server"],
                "scenario": c["scenario"],
                "workers": 2,
                "threads": 1,
                "instances": 1,
                "profiled": profiled,
                "users": users,
                "rate": rate,
                "repetitions": repeat,
            }
        )
    meta = {
        "format_version": 1,
        "status": status,
        "name": name.split("_", 1)[-1],
        "created": "2026-11-27T03:00:00Z",
        "finished": None if status == "running" else "2026-11-27T03:01:00Z",
        "error": None,
        "profiled": profiled,
        "git": {"commit": commit, "dirty": False},
        "machine": machine or MACHINE,
        "python": "3.11.2",
        "packages": packages or PACKAGES,
        "pinning": {"server_cpus": [1], "generator_cpus": [0]},
        "config": config,
        "commands": [
            [
                "gunicorn",
                "--workers",
                "2",
                "--bind",
                "127.0.0.1:8000",
                "targets.sync_app:create_app()",
            ],
            ["locust", "-f", "loadtests/browse.py", "--headless", "-u", str(users)],
        ],
        "cells": meta_cells,
    }
    write_json(run_dir / "meta.json", meta)
    rows = []
    start = START
    for rep in range(repeat):
        for c in cells:
            spec = c["endpoints"](rep) if callable(c["endpoints"]) else c["endpoints"]
            users_at = c.get("users_at", lambda t: users)
            seconds = int(warmup + duration + 1)
            windows = [
                window(rng, t, users_at(t), spec, c.get("corrected")) for t in range(seconds)
            ]
            open_model = None
            if rate:
                sent = sum(e["count"] for w in windows for e in w["endpoints"].values())
                open_model = {
                    "rate": rate,
                    "scheduled": sent + 3,
                    "sent": sent,
                    "late": 41,
                    "dropped": 0,
                }
            recorder = {
                "format_version": 1,
                "unit": "us",
                "start_unix": start,
                "window_s": 1,
                "warmup_s": warmup,
                "shape": shape,
                "processes": 1,
                "open_model": open_model,
                "windows": windows,
                "locust_totals": {},
            }
            cell_dir = run_dir / "cells" / c["cell_id"] / f"r{rep}"
            write_json(cell_dir / "recorder.json", recorder)
            cpu = c.get("cpu", (60.0, 85.0))
            cpu_rows = [
                {
                    "t": t + 0.6,
                    "generator_cpu_pct": round(cpu[0] + rng.gauss(0, 3), 1),
                    "generator_cpu_max_pct": round(cpu[0] + rng.gauss(0, 3), 1),
                    "server_cpu_pct": round(cpu[1] + rng.gauss(0, 4), 1),
                    "server_rss_mb": 80.0,
                }
                for t in range(seconds)
            ]
            with (cell_dir / "cpu.csv").open("w") as fh:
                fh.write(",".join(cpu_rows[0]) + "\n")
                fh.writelines(",".join(str(v) for v in r.values()) + "\n" for r in cpu_rows)
            window_ = figures.steady_window(recorder, warmup, duration)
            figures.write_timeseries(cell_dir / "timeseries.csv", recorder, window_)
            measured = figures.summarize_cell(recorder, cpu_rows, warmup=warmup, duration=duration)
            rows.append(
                {
                    "cell_id": c["cell_id"],
                    "repetition": rep,
                    "dir": f"cells/{c['cell_id']}/r{rep}",
                    "target": c["target"],
                    "server": c["server"],
                    "scenario": c["scenario"],
                    "workers": 2,
                    "threads": 1,
                    "instances": 1,
                    "users": users,
                    "rate": rate,
                    "shape": shape,
                    "processes": 1,
                    "profiled": profiled,
                    "duration_s": duration,
                    "warmup_s": warmup,
                    **measured,
                }
            )
            start += seconds + 3
    if status != "running":
        write_json(run_dir / "summary.json", {"format_version": 1, "rows": rows})
    (run_dir / "locust.log").unlink(missing_ok=True)
    return run_dir


BROWSE = ["GET /items", "GET /items/<int:item_id>", "POST /login", "GET /items/new"]


def browse_endpoints(speed: float) -> dict[str, dict[str, Any]]:
    return {
        "GET /items": {"rps": 60 * speed, "latency": lognormal(4.0 / speed)},
        "GET /items/<int:item_id>": {"rps": 40 * speed, "latency": lognormal(2.5 / speed)},
        "POST /login": {
            "rps": 8 * speed,
            "latency": lognormal(9.0 / speed, 0.2),
            "failures": {"401": (1, 0.3)},
        },
        "GET /items/new": {"rps": 6 * speed, "latency": lognormal(3.0 / speed)},
    }


def make_default() -> None:
    speeds = {"sync": 1.0, "async": 0.85, "cached": 2.2, "uncached": 0.7}
    cells = [
        {
            "target": t,
            "server": "gunicorn-sync",
            "scenario": "browse",
            "endpoints": browse_endpoints(s),
            "cpu": (55 + 10 * s, 95.0),
        }
        for t, s in speeds.items()
    ]
    cells[2]["cpu"] = (93.0, 70.0)  # cached: the generator is the bottleneck
    make_run("20261127T030000Z_default", cells, seed=11)


def make_profiled(name: str, seed: int, slow: float) -> None:
    endpoints = {
        "GET /db": {"rps": 50, "latency": lognormal(3.0 * slow), "profiled": 2},
        "GET /fortunes": {"rps": 30, "latency": lognormal(5.0 * slow), "profiled": 1},
    }
    run_dir = make_run(
        name,
        [{"target": "sync", "server": "gunicorn-sync", "scenario": "db", "endpoints": endpoints}],
        profiled=True,
        seed=seed,
        duration=6,
    )
    prof = run_dir / "profiles"
    prof.mkdir()
    for stem in ("get_db", "get_db_tail", "get_fortunes", "get_fortunes_tail"):
        (prof / f"{stem}.html").write_text(f"<!doctype html><title>{stem}</title><p>profile\n")
    (prof / "speedscope.json").write_text('{"profiles": []}\n')

    def hotspot(fn: str, line: int, self_ms: float, total_ms: float) -> dict[str, Any]:
        return {
            "function": fn,
            "file": "targets/common/db.py",
            "line": line,
            "self_ms": round(self_ms * slow, 3),
            "total_ms": round(total_ms * slow, 3),
            "pct": round(100 * total_ms / 3.0, 1),
            "share": 0.98,
        }

    hotspots = {
        "format_version": 1,
        "cells": {
            "sync-gunicorn-sync-db": {
                "endpoints": {
                    "GET /db": {
                        "profiled_requests": 120,
                        "wall_ms_mean": 2.1 * slow,
                        "cpu_ms_mean": 1.4 * slow,
                        "p95_wall_ms": 4.0 * slow,
                        "tail_requests": 6,
                        "hotspots": [
                            hotspot("fetch_world", 42, 0.3, 1.2),
                            hotspot("execute", 118, 0.6, 0.9),
                            hotspot("jsonify", 7, 0.2, 0.3),
                        ],
                        "tail_hotspots": [hotspot("fetch_world", 42, 1.3, 2.9)],
                        "files": {
                            "html": "profiles/get_db.html",
                            "tail_html": "profiles/get_db_tail.html",
                            "folded": "profiles/folded/get_db.txt",
                        },
                    },
                    "GET /fortunes": {
                        "profiled_requests": 80,
                        "wall_ms_mean": 4.2 * slow,
                        "cpu_ms_mean": 3.1,
                        "p95_wall_ms": 7.5,
                        "tail_requests": 4,
                        "hotspots": [hotspot("render_template", 12, 1.1, 2.6)],
                        "tail_hotspots": [],
                        "files": {
                            "html": "profiles/get_fortunes.html",
                            "tail_html": "profiles/get_fortunes_tail.html",
                            "folded": "profiles/folded/get_fortunes.txt",
                        },
                    },
                }
            }
        },
        "speedscope": "profiles/speedscope.json",
    }
    write_json(prof / "hotspots.json", hotspots)


def make_open_model() -> None:
    def stall(rng: random.Random, t: int) -> float:
        base = 2.0 * math.exp(rng.gauss(0, 0.3))
        return base + (rng.uniform(0, 1000) if t == 6 else 0.0)  # a 1 s stall at t=6

    endpoints = {"GET /json": {"rps": 100, "latency": lognormal(2.0, 0.3)}}
    make_run(
        "20261127T032000Z_open",
        [
            {
                "target": "sync",
                "server": "gunicorn-sync",
                "scenario": "json",
                "endpoints": endpoints,
                "corrected": {"GET /json": stall},
            }
        ],
        rate=100.0,
        seed=21,
        duration=10,
    )


def make_step() -> None:
    def users_at(t: int) -> int:
        return 5 * (1 + t // 4)

    def rps(t: int) -> float:
        return min(40 * (1 + t // 4), 130)

    def latency(rng: random.Random, t: int) -> float:
        load = 40 * (1 + t // 4)
        return (2.0 + max(0, load - 120) * 0.15) * math.exp(rng.gauss(0, 0.3))

    make_run(
        "20261127T033000Z_step",
        [
            {
                "target": "sync",
                "server": "gunicorn-sync",
                "scenario": "json",
                "users_at": users_at,
                "endpoints": {"GET /json": {"rps": rps, "latency": latency}},
            }
        ],
        shape="step",
        seed=31,
        duration=18,
        warmup=1,
    )


def make_hostile() -> None:
    endpoints = {
        HOSTILE: {
            "rps": 30,
            "latency": lognormal(2.0),
            "failures": {"<img src=x onerror=alert(2)>": (2, 0.5)},
        },
        "GET /json": {"rps": 40, "latency": lognormal(1.0)},
    }
    machine = {**MACHINE, "hostname": "<b>host</b><script>alert(3)</script>"}
    make_run(
        "20261127T034000Z_hostile",
        [{"target": "sync", "server": "gunicorn-sync", "scenario": "json", "endpoints": endpoints}],
        seed=41,
        duration=5,
        machine=machine,
        config_extra={"note": "</script><script>alert(4)</script>"},
    )


def make_broken() -> None:
    corrupt = OUT / "20261127T035000Z_corrupt"
    shutil.rmtree(corrupt, ignore_errors=True)
    corrupt.mkdir(parents=True)
    (corrupt / "meta.json").write_text('{"format_version": 1, "status": "compl')
    make_run(
        "20261127T035500Z_halfwritten",
        [
            {
                "target": "sync",
                "server": "gunicorn-sync",
                "scenario": "json",
                "endpoints": {"GET /json": {"rps": 20, "latency": lognormal(1.0)}},
            }
        ],
        status="running",
        duration=3,
        warmup=1,
        seed=51,
    )


def make_pair(prefix: str, factor: float, seed: int, repeat: int = 5) -> None:
    """Baseline and candidate; the candidate's latency x factor and throughput / factor.

    Each repetition gets its own drift (±3% sd), like runs on a shared machine.
    """
    for which, f, s in (("a", 1.0, seed), ("b", factor, seed + 1)):
        drift = random.Random(s * 7)
        drifts = [math.exp(drift.gauss(0, 0.03)) for _ in range(repeat)]

        def endpoints(rep: int, f: float = f, drifts: list[float] = drifts) -> dict:
            d = drifts[rep] * f
            return {
                "GET /json": {"rps": 120 / d, "latency": lognormal(2.0 * d, 0.25)},
                "GET /db": {"rps": 60 / d, "latency": lognormal(4.0 * d, 0.25)},
            }

        make_run(
            f"20261127T04{seed % 60:02d}00Z_{prefix}-{which}",
            [
                {
                    "target": "sync",
                    "server": "gunicorn-sync",
                    "scenario": "mixed",
                    "endpoints": endpoints,
                }
            ],
            repeat=repeat,
            seed=s,
            duration=5,
            warmup=1,
            commit=("aaaa" if which == "a" else "bbbb") + "0" * 36,
        )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    make_default()
    make_profiled("20261127T031000Z_profiled", seed=12, slow=1.0)
    make_profiled("20261127T031500Z_profiled-slow", seed=13, slow=1.3)
    make_open_model()
    make_step()
    make_hostile()
    make_broken()
    make_pair("regression", 1.2, seed=1)
    make_pair("same", 1.0, seed=3)
    make_pair("single", 1.2, seed=5, repeat=1)
    (OUT / "latest").write_text("20261127T030000Z_default\n")
    for path in sorted(OUT.iterdir()):
        if path.is_dir():
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            print(f"{size / 1024:8.1f} KB  {path.name}")


if __name__ == "__main__":
    main()
