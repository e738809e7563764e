"""Run folders -> DataFrames -> charts -> self-contained HTML; comparisons of runs.

Reads run folders only: never servers, never Locust (docs/architecture.md).
``reports.render_report`` and ``reports.compare_runs`` are imported lazily so that
``import harness.cli.compare`` (done by every ``bench.py`` command) does not load matplotlib.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compare_runs", "render_report"]


def __getattr__(name: str) -> Any:
    if name == "render_report":
        from reports.report import render_report

        return render_report
    if name == "compare_runs":
        from reports.compare import compare_runs

        return compare_runs
    raise AttributeError(f"module 'reports' has no attribute {name!r}")
