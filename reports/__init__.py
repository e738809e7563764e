"""Run folders -> DataFrames -> charts -> self-contained HTML; comparisons of runs.

Reads run folders only: never servers, never Locust (docs/architecture.md).
"""
