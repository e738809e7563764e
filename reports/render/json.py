"""A comparison as data (``--json``, ``comparison.json``): every row, verdict and finding."""

from __future__ import annotations

from typing import Any

from reports.comparison import Comparison
from reports.render.text import METHOD


def as_json(cmp: Comparison, allow_undecided: bool = False) -> dict[str, Any]:
    return {
        "baseline": cmp.baseline.name,
        "candidates": [c.name for c in cmp.candidates],
        "gate": [str(t) for t in cmp.thresholds],
        "gate_endpoints": list(cmp.gate_endpoints),
        "exit_code": cmp.exit_code(allow_undecided),
        "rows": [r.as_dict() for r in cmp.rows],
        "regressions": [vars(f) for f in cmp.violations],
        "undecided": [vars(f) for f in cmp.undecided],
        "tests": cmp.tests,
        "functions": cmp.profile_diffs,
        "warnings": cmp.warnings,
        "method": METHOD,
    }
