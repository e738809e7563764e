"""The recorder's worker -> master path merges exactly (no Locust run: simulated requests).

``loadtests.recorder`` imports locust, which monkey-patches the process with gevent, so
the simulation runs in a child Python process and prints what it found.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SIMULATION = r"""
import json, random
import loadtests.recording as R
from loadtests import histograms as H

class Resp:
    def __init__(self, status, profiled):
        self.status_code = status
        self.headers = {"X-Bench-Profiled": "1"} if profiled else {}

class Boom(Exception):
    pass

clock = [1_000_000.0]
R._time = lambda: clock[0]
rng = random.Random(7)
workers = [R.Recorder() for _ in range(3)]
single, master = R.Recorder(), R.Recorder()
for i in range(20000):
    clock[0] += rng.random() * 0.0012          # ~12 s of requests
    status = rng.choice([200] * 20 + [500, 404])
    kw = dict(request_type=rng.choice(["GET", "POST"]), name=rng.choice(["/a", "/b/<int:id>"]),
              response_time=rng.lognormvariate(0, 1.5), response=Resp(status, rng.random() < 0.03),
              context={}, exception=Boom() if status != 200 else None, start_time=clock[0])
    if rng.random() < 0.01:
        kw["exception"], kw["response"] = ConnectionRefusedError(), Resp(0, False)
    w = workers[rng.randrange(3)]
    w.on_request(**kw)
    single.on_request(**kw)
    if rng.random() < 0.01:                      # an open-model slot dropped (per second)
        w.on_drop(2)
        single.on_drop(2)
    if rng.random() < 0.002:                     # a report, every few seconds per worker
        master.merge_wire(json.loads(json.dumps(w.take_wire())))
    if rng.random() < 0.001:
        master.compact(int(clock[0]) - 2)        # older windows kept encoded
for w in workers:
    master.merge_wire(json.loads(json.dumps(w.take_wire())))

problems = []
if set(master.windows) != set(single.windows):
    problems.append("different windows")
n = 0
for sec, window in single.windows.items():
    for label, e in window.items():
        m = master.windows.get(sec, {}).get(label)
        if m is None:
            problems.append(f"missing {sec} {label}"); continue
        if not H.decode(m.hist_encoded()).equals(e.live()):
            problems.append(f"hist differs {sec} {label}")
        if m.failures != e.failures or m.profiled != e.profiled:
            problems.append(f"counts differ {sec} {label}: {m.failures} {e.failures}")
        n += m.count() + sum(m.failures.values()) + m.profiled
if master.drops != single.drops or sum(single.drops.values()) == 0:
    problems.append(f"drops differ: {master.drops} {single.drops}")
if [w.get("dropped", 0) for w in master.document()["windows"]] != [
        single.drops.get(sec, 0) for sec in sorted(single.windows)]:
    problems.append("document windows do not carry the drops")
statuses = sorted({s for w in single.windows.values() for e in w.values() for s in e.failures})
print(json.dumps({"problems": problems, "total": n, "windows": len(single.windows),
                  "statuses": statuses}))
"""


def test_worker_reports_merge_into_exactly_the_single_process_histograms() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SIMULATION], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["problems"] == []
    assert result["total"] == 20000
    assert result["windows"] >= 10
    assert result["statuses"] == ["404", "500", "ConnectionRefusedError"]
