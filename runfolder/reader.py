"""Run folders into validated objects and DataFrames.

A report is built from the run folder alone (never servers, never Locust), so it
can be rebuilt later on another machine. Anything that makes a folder
untrustworthy (missing or invalid ``meta.json``, a run still marked ``running``
without a summary, bad JSON, an unknown format version) raises
``RunFolderError`` with one line saying what is wrong and what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests.histograms import merge_into
from runfolder import hdr
from runfolder.errors import RunFolderError
from runfolder.figures import ALL, PERCENTILES, TIMESERIES_FIELDS
from runfolder.storage import resolve_run
from runfolder.validate import read_json, validate_meta, validate_rows
from runfolder.window import SteadyWindow, steady_window

if TYPE_CHECKING:  # loaded by the methods that build frames: importing reports stays light
    import pandas as pd


SUMMARY_COLUMNS = [
    "cell_id",
    "repetition",
    "target",
    "server",
    "scenario",
    "workers",
    "threads",
    "instances",
    "users",
    "rate",
    "endpoint",
    "requests",
    "failed",
    "error_pct",
    "rps",
    "profiled",
    "count",
    "min",
    "mean",
    "max",
    "p50",
    "p90",
    "p99",
    "p99.9",
    "c_count",
    "c_p50",
    "c_p90",
    "c_p99",
    "c_p99.9",
    "thin",
    "failures",
    "generator_bound",
]


@dataclass
class CellHistograms:
    """Steady-state histograms of one cell, merged over its repetitions."""

    endpoints: dict[str, Any] = field(default_factory=dict)
    corrected: dict[str, Any] = field(default_factory=dict)
    repetitions: int = 0


@dataclass
class Run:
    """One run folder, validated: meta, summary rows and lazy access to raw data."""

    path: Path
    meta: dict[str, Any]
    rows: list[dict[str, Any]]
    hotspots: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return str(self.meta.get("status"))

    @property
    def profiled(self) -> bool:
        return bool(self.meta.get("profiled")) or any(r.get("profiled") for r in self.rows)

    @property
    def shape(self) -> str:
        config = self.meta.get("config") or {}
        shapes = {r.get("shape") for r in self.rows if r.get("shape")}
        return str(config.get("shape") or (shapes.pop() if len(shapes) == 1 else "constant"))

    @property
    def open_model(self) -> bool:
        return any(r.get("open_model") or r.get("rate") for r in self.rows)

    def cell_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.setdefault(row["cell_id"], None)
        return list(seen)

    def cell_rows(self, cell_id: str) -> list[dict[str, Any]]:
        return sorted(
            (r for r in self.rows if r["cell_id"] == cell_id), key=lambda r: r["repetition"]
        )

    def rep_dir(self, row: dict[str, Any]) -> Path:
        if row.get("dir"):
            return self.path / str(row["dir"])
        return self.path / "cells" / str(row["cell_id"]) / f"r{row['repetition']}"

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per cell, repetition and endpoint (``ALL`` included)."""
        import pandas as pd

        records = []
        for row in self.rows:
            for endpoint, e in row["endpoints"].items():
                lat = e.get("latency_ms") or {}
                cor = e.get("corrected_latency_ms") or {}
                failures = e.get("failures") or {}
                records.append(
                    {
                        **{
                            k: row.get(k)
                            for k in (
                                "cell_id",
                                "repetition",
                                "target",
                                "server",
                                "scenario",
                                "workers",
                                "threads",
                                "instances",
                                "users",
                                "rate",
                                "generator_bound",
                            )
                        },
                        "endpoint": endpoint,
                        "requests": e.get("requests", 0),
                        "failed": sum(int(v) for v in failures.values()),
                        "error_pct": e.get("error_pct", 0.0),
                        "rps": e.get("rps"),
                        "profiled": e.get("profiled", 0),
                        **{k: lat.get(k) for k in ("count", "min", "mean", "max", *PERCENTILES)},
                        **{f"c_{k}": cor.get(k) for k in ("count", *PERCENTILES)},
                        "thin": list(e.get("thin") or []),
                        "failures": dict(failures),
                    }
                )
        return pd.DataFrame.from_records(records, columns=SUMMARY_COLUMNS)

    # raw data -------------------------------------------------------------------

    def recorder(self, row: dict[str, Any]) -> dict[str, Any] | None:
        path = self.rep_dir(row) / "recorder.json"
        if not path.exists():
            return None
        data = read_json(path, "the recorder output of this repetition")
        if data.get("unit", "us") != "us":
            raise RunFolderError(f"{path}: unit {data.get('unit')!r}, expected 'us'")
        if not isinstance(data.get("windows"), list):
            raise RunFolderError(f"{path}: 'windows' must be a list; the recorder file is corrupt")
        recorder: dict[str, Any] = data
        return recorder

    def steady(self, row: dict[str, Any], recorder: dict[str, Any]) -> SteadyWindow:
        """The bounds the row stored; folders from before they were stored: the same rule."""
        stored = SteadyWindow.from_json(row.get("steady_window"))
        if stored is not None:
            return stored
        warmup = float(row.get("warmup_s", recorder.get("warmup_s") or 0.0))
        duration = row.get("duration_s")
        if duration is None:  # no duration recorded: everything after warm-up
            last = max((int(w["t"]) for w in recorder["windows"]), default=0)
            return SteadyWindow(math.ceil(warmup), last)
        return steady_window(recorder, warmup, float(duration))

    def timeseries(self, row: dict[str, Any]) -> pd.DataFrame:
        """Per second and endpoint (plus ``ALL``): users, requests, rps, percentiles, steady."""
        import pandas as pd

        path = self.rep_dir(row) / "timeseries.csv"
        if path.exists():
            try:
                frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
                raise RunFolderError(f"{path} is not a valid CSV ({exc}): corrupt") from None
            missing = {"t", "endpoint", "rps"} - set(frame.columns)
            if missing:
                raise RunFolderError(f"{path} lacks columns {sorted(missing)}: corrupt")
            frame["endpoint"] = frame["endpoint"].astype(str)
            return frame
        recorder = self.recorder(row)
        if recorder is None:
            return pd.DataFrame(columns=list(TIMESERIES_FIELDS))
        return _timeseries_from_recorder(recorder, self.steady(row, recorder))

    def cpu(self, row: dict[str, Any]) -> pd.DataFrame:
        import pandas as pd

        path = self.rep_dir(row) / "cpu.csv"
        if not path.exists():
            return pd.DataFrame(
                columns=["t", "generator_cpu_pct", "generator_cpu_max_pct", "server_cpu_pct"]
            )
        try:
            return pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise RunFolderError(f"{path} is not a valid CSV ({exc}): corrupt") from None

    def cell_histograms(self, cell_id: str) -> CellHistograms:
        """Steady-state histograms per endpoint (and ``ALL``), merged over repetitions."""
        out = CellHistograms()
        for row in self.cell_rows(cell_id):
            recorder = self.recorder(row)
            if recorder is None:
                continue
            out.repetitions += 1
            window = self.steady(row, recorder)
            plain: dict[str, list[str]] = {}
            corrected: dict[str, list[str]] = {}
            for w in recorder["windows"]:
                if not window.contains(int(w.get("t", -1))):
                    continue
                for name, entry in (w.get("endpoints") or {}).items():
                    plain.setdefault(name, []).append(entry.get("hist"))
                    if entry.get("corrected_hist"):
                        corrected.setdefault(name, []).append(entry["corrected_hist"])
            try:
                for name, texts in plain.items():
                    hdr.merge_encoded(out.endpoints.setdefault(name, hdr.new_histogram()), texts)
                for name, texts in corrected.items():
                    hdr.merge_encoded(out.corrected.setdefault(name, hdr.new_histogram()), texts)
            except Exception as exc:
                raise RunFolderError(
                    f"{self.rep_dir(row) / 'recorder.json'}: a histogram does not decode "
                    f"({exc.__class__.__name__}): the recorder file is corrupt"
                ) from None
        for source in (out.endpoints, out.corrected):
            if source and ALL not in source:
                total = hdr.new_histogram()
                for hist in source.values():
                    merge_into(total, hist)
                source[ALL] = total
        return out


def _timeseries_from_recorder(recorder: dict[str, Any], window: SteadyWindow) -> pd.DataFrame:
    import pandas as pd

    width = float(recorder.get("window_s") or 1.0)
    records = []
    for w in sorted(recorder["windows"], key=lambda w: w["t"]):
        t = int(w["t"])
        total = hdr.new_histogram()
        total_req = total_fail = 0
        entries = sorted((w.get("endpoints") or {}).items())
        for name, entry in [*entries, (ALL, None)]:
            if entry is None:
                hist, requests, failed = total, total_req, total_fail
            else:
                hist = hdr.new_histogram()
                hdr.merge_encoded(hist, [entry.get("hist")])
                merge_into(total, hist)
                failed = sum(int(v) for v in (entry.get("failures") or {}).values())
                requests = int(entry.get("count", 0)) + failed + int(entry.get("profiled", 0))
                total_req += requests
                total_fail += failed
            values = hdr.percentiles_ms(hist, list(PERCENTILES.values()))
            records.append(
                {
                    "t": t,
                    "endpoint": name,
                    "users": w.get("users"),
                    "requests": requests,
                    "failures": failed,
                    "rps": requests / width,
                    **{k: values.get(q) for k, q in PERCENTILES.items()},
                    "max": hist.get_max_value() / 1000 if hist.get_total_count() else None,
                    "steady": int(window.contains(t)),
                }
            )
    return pd.DataFrame.from_records(records)


def load_run(ref: str | Path, runs_dir: Path = Path("runs")) -> Run:
    """Load and validate a run folder (a path, a name under ``runs_dir``, or ``latest``)."""
    path = resolve_run(ref, runs_dir)
    meta = read_json(path / "meta.json", "this is not a run folder, or its run never started")
    validate_meta(meta, path / "meta.json")
    summary_path = path / "summary.json"
    warnings: list[str] = []
    if not summary_path.exists():
        status = meta["status"]
        if status == "running":
            raise RunFolderError(
                f"{path} is half-written: status 'running' and no summary.json; the run is "
                "still going or crashed; wait for it or run it again"
            )
        raise RunFolderError(
            f"{path} has no summary.json (status {status!r}): no cell finished; "
            "see the logs under cells/ and run it again"
        )
    summary = read_json(summary_path, "the run has no summary")
    rows = validate_rows(summary.get("rows"), summary_path)
    if meta["status"] == "running":
        warnings.append(
            "meta.json still says 'running': the run may have crashed after writing its "
            "summary; figures may be incomplete"
        )
    elif meta["status"] != "complete":
        reason = f" ({meta['error']})" if meta.get("error") else ""
        warnings.append(f"the run ended {meta['status']}{reason}: figures cover what finished")
    if not rows:
        warnings.append("summary.json has no rows: no cell produced figures")
    hotspots = None
    hotspots_path = path / "profiles" / "hotspots.json"
    if hotspots_path.exists():
        try:
            hotspots = read_json(hotspots_path, "")
        except RunFolderError as exc:  # derived and rebuildable: warn, don't refuse
            warnings.append(f"hotspots ignored: {exc.message}")
    return Run(path=path, meta=meta, rows=rows, hotspots=hotspots, warnings=warnings)
