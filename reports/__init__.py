"""Run folders -> DataFrames -> charts -> self-contained HTML; comparisons of runs.

Reads run folders only: never servers, never Locust, never ``harness/`` (docs/architecture.md).
Entry points: ``reports.report.render_report(run_dir)`` builds a run's report,
``reports.compare.compare_runs(...)`` a comparison, rendered by ``reports.render``.
Nothing heavy is imported here, so that importing ``reports.gate`` for a command's
options does not load pandas or matplotlib.
"""
