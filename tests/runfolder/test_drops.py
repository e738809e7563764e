"""Open-model drops: counted per second, failures of ALL in the steady window, apart outside."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from runfolder import figures

_spec = importlib.util.spec_from_file_location(
    "figures_samples", Path(__file__).with_name("test_figures.py")
)
assert _spec is not None and _spec.loader is not None
_samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_samples)
window, recorder = _samples.window, _samples.recorder


def test_drops_in_the_steady_window_are_failures_and_a_warning() -> None:
    windows = [
        window(t, {"GET /x": [1.0] * 100}, corrected={"GET /x": [1.0] * 100}) for t in range(7)
    ]
    windows[1]["dropped"] = 5  # warm-up (steady: windows 2..5)
    windows[3]["dropped"] = 40  # steady
    windows[6]["dropped"] = 7  # shutdown (partial last window)
    rec = recorder(
        windows, open_model={"rate": 100.0, "scheduled": 752, "sent": 700, "late": 0, "dropped": 52}
    )
    m = figures.summarize_cell(rec, [], warmup=1, duration=5)
    om = m["open_model"]
    assert (om["dropped_steady"], om["dropped_outside"]) == (40, 12)
    total = m["endpoints"][figures.ALL]
    assert total["failures"] == {"dropped": 40} and total["dropped"] == 40
    assert total["requests"] == 4 * 100 + 40 and total["rps"] == 100.0
    assert total["error_pct"] == round(100 * 40 / 440, 3)
    assert "dropped" not in m["endpoints"]["GET /x"]["failures"]
    assert any(
        "40 scheduled requests were dropped in the steady window" in w for w in m["warnings"]
    )
    windows[3]["dropped"] = 0
    m = figures.summarize_cell(
        recorder(windows, open_model=rec["open_model"]), [], warmup=1, duration=5
    )
    assert m["endpoints"][figures.ALL]["failures"] == {}
    assert m["open_model"]["dropped_outside"] == 12
    assert not any("dropped" in w for w in m["warnings"])
