"""Generator health: was the load generator, not the server, the bottleneck?

Three views, each enough to make a cell generator-bound (its throughput is then the
generator's, not the server's capacity):

- the busiest single Locust process (one process is one core at most);
- all Locust processes on this machine together, against the CPUs they were given
  (two processes pinned to one CPU share it: each looks half idle, the CPU is full);
- each Locust worker's own CPU as its heartbeats tell the master (``--processes``
  and workers on other machines, which this machine's sampler cannot see).
"""

from __future__ import annotations

from typing import Any

from runfolder.window import SteadyWindow

LIMIT_PCT = 90.0  # of one core (a process) or of the CPUs given (all together)
ADVICE = (
    "the throughput is the generator's, not the server's capacity: give the generator "
    "more CPUs (--generator-cpus), more processes on free CPUs (--processes), or more "
    "machines (bench.py worker)"
)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def generator_health(
    recorder: dict[str, Any],
    steady_cpu: list[dict[str, float]],
    window: SteadyWindow,
    generator_cpus: int | None,
) -> tuple[dict[str, Any], list[str]]:
    """Row fields and warnings; ``fields["generator_saturated"]`` is the verdict."""
    peak = _mean([r["generator_cpu_max_pct"] for r in steady_cpu])
    cpus_busy = _mean(
        [r["generator_cpus_busy_pct"] for r in steady_cpu if "generator_cpus_busy_pct" in r]
    )
    total = _mean([r["generator_cpu_pct"] for r in steady_cpu if "generator_cpu_pct" in r])
    per_worker: dict[str, list[float]] = {}
    for sample in recorder.get("worker_cpu") or []:
        if window.contains(int(sample.get("t", -1))):
            for worker, pct in (sample.get("cpu") or {}).items():
                per_worker.setdefault(str(worker), []).append(float(pct))
    workers = {w: round(sum(v) / len(v), 1) for w, v in sorted(per_worker.items())}
    capacity = 100.0 * generator_cpus if generator_cpus else None

    reasons: list[str] = []
    if peak is not None and peak > LIMIT_PCT:
        reasons.append(f"a Locust process averaged {peak:.0f}% of a core")
    if total is not None and capacity and total > LIMIT_PCT / 100 * capacity:
        reasons.append(
            f"the Locust processes together averaged {total:.0f}% of the {generator_cpus} "
            f"CPU(s) they were given ({capacity:.0f}%)"
        )
    if cpus_busy is not None and cpus_busy > LIMIT_PCT and not reasons:
        own = f"{total:.0f}%" if total is not None else "?"
        reasons.append(
            f"the generator's CPU(s) were {cpus_busy:.0f}% busy while Locust itself used {own}: "
            "other programs compete for them"
        )
    busy = {w: pct for w, pct in workers.items() if pct > LIMIT_PCT}
    if busy:
        named = ", ".join(f"{w} {pct:.0f}%" for w, pct in busy.items())
        reasons.append(f"Locust worker(s) reported by heartbeat above {LIMIT_PCT:.0f}%: {named}")
    fields = {
        "generator_cpu_sum_mean_pct": round(total, 1) if total is not None else None,
        "generator_cpus": generator_cpus,
        "generator_cpus_busy_pct": round(cpus_busy, 1) if cpus_busy is not None else None,
        "generator_worker_cpu_pct": workers,
        "generator_saturated": reasons,
    }
    warnings = [f"generator-bound: {'; '.join(reasons)} (limit {LIMIT_PCT:.0f}%); {ADVICE}"]
    return fields, warnings if reasons else []
