"""Generator health on synthetic CPU samples: each view alone makes a cell generator-bound."""

from __future__ import annotations

from runfolder.health import generator_health
from runfolder.window import SteadyWindow

WINDOW = SteadyWindow(1, 4)


def samples(total: float, peak: float, busy: float | None = None) -> list[dict[str, float]]:
    rows = []
    for t in range(1, 6):
        row = {"t": float(t), "generator_cpu_pct": total, "generator_cpu_max_pct": peak}
        if busy is not None:
            row["generator_cpus_busy_pct"] = busy
        rows.append(row)
    return rows


def test_a_quiet_generator_is_healthy() -> None:
    fields, warnings = generator_health({}, samples(40, 40, 45), WINDOW, 1)
    assert fields["generator_saturated"] == [] and warnings == []


def test_one_process_at_its_core_limit() -> None:
    fields, warnings = generator_health({}, samples(95, 95), WINDOW, 2)
    assert fields["generator_saturated"] == ["a Locust process averaged 95% of a core"]
    assert "--generator-cpus" in warnings[0]


def test_two_processes_sharing_one_cpu() -> None:
    fields, _ = generator_health({}, samples(96, 48), WINDOW, 1)
    assert len(fields["generator_saturated"]) == 1
    assert "together averaged 96% of the 1 CPU(s)" in fields["generator_saturated"][0]
    # the same load on two CPUs is fine
    assert generator_health({}, samples(96, 48), WINDOW, 2)[0]["generator_saturated"] == []


def test_cpus_busy_with_other_programs() -> None:
    fields, _ = generator_health({}, samples(40, 40, busy=99), WINDOW, 1)
    assert "other programs compete" in fields["generator_saturated"][0]


def test_remote_workers_by_heartbeat_inside_the_steady_window_only() -> None:
    recorder = {
        "worker_cpu": [{"t": t, "cpu": {"far-1": 97.0, "far-2": 20.0}} for t in (1, 2, 3)]
        + [{"t": 9, "cpu": {"far-2": 100.0}}]
    }
    fields, warnings = generator_health(recorder, [], WINDOW, 1)
    assert fields["generator_worker_cpu_pct"] == {"far-1": 97.0, "far-2": 20.0}
    assert "far-1 97%" in fields["generator_saturated"][0]
    assert "far-2" not in fields["generator_saturated"][0]
    assert warnings and "more machines" in warnings[0]
