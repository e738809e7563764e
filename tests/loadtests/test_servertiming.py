"""Server-Timing parsing and the recorder's per-part histograms (merge across processes)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from loadtests import histograms as H
from loadtests import servertiming as ST

REPO = Path(__file__).resolve().parents[2]

FULL = (
    'app;dur=10.000, db;dur=6.500;desc="n=20", up;dur=1.000, tpl;dur=0.500, start;desc="1000.004"'
)


def test_parse_reads_every_part_and_the_query_count() -> None:
    parts = ST.parse(FULL)
    assert parts == {
        "app": 10.0,
        "db": 6.5,
        "queries": 20.0,
        "up": 1.0,
        "tpl": 0.5,
        "start": 1000.004,
    }


def test_row_splits_latency_and_uses_one_clock_only_when_plausible() -> None:
    # same clock: queue is the server's start minus the client's send
    q, app, db, up, tpl, other, n = ST.row(FULL, 15.0, 1000.0, clock=True)
    assert (q, app, db, up, tpl, other, n) == (4000, 10000, 6500, 1000, 500, 2000, 20)
    # no shared clock: latency minus app
    assert ST.row(FULL, 15.0, 1000.0, clock=False)[0] == 5000
    # a "start" that cannot be on the client's clock falls back too
    assert ST.row(FULL, 15.0, 990.0, clock=True)[0] == 5000
    # nginx's queue part is used when the clocks differ
    with_queue = FULL.replace("start;", "queue;dur=2.5, start;")
    assert ST.row(with_queue, 15.0, None, clock=False)[0] == 2500


def test_parts_the_server_did_not_send_are_absent_not_zero() -> None:
    values = ST.row('app;dur=2.000, start;desc="5.0"', 3.0, None, clock=False)
    assert values is not None
    _queue, app, db, up, tpl, other, n = values
    assert (db, up, tpl, n) == (-1, -1, -1, -1)
    assert other == app == 2000
    buf = ST.TimingBuffer()
    buf.add(values)
    assert set(buf.encoded()) == {"queue", "app", "other"}
    assert ST.row("foo;dur=1", 3.0, None, clock=False) is None  # no app part: not ours


def test_record_many_equals_record_value() -> None:
    rng = random.Random(3)
    values = [0, 1, 2, 127, 128, 129, 2047, 2048, 10**6, H.HIGHEST_US]
    values += [int(rng.lognormvariate(6, 2.5)) for _ in range(5000)]
    values = [min(v, H.HIGHEST_US) for v in values]
    for make in (H.new_histogram, ST.new_part_histogram):
        one, many = make(), make()
        for v in values:
            one.record_value(v)
        H.record_many_us(many, values)
        assert one.equals(many)
        assert one.get_min_value() == many.get_min_value() == 0
        assert one.get_max_value() == many.get_max_value()


def test_same_clock_only_for_loopback_hosts() -> None:
    assert ST.same_clock("http://127.0.0.1:8000")
    assert ST.same_clock("http://localhost:8000")
    assert ST.same_clock("http://[::1]:8000")
    assert not ST.same_clock("http://10.0.0.5:8000")
    assert not ST.same_clock(None)


SIMULATION = r"""
import json, random
import loadtests.recorder as R
from loadtests import histograms as H, servertiming as ST

class Resp:
    status_code = 200
    def __init__(self, header):
        self.headers = {"Server-Timing": header} if header else {}

clock = [1_000_000.0]
R._time = lambda: clock[0]
rng = random.Random(11)
workers = [R.Recorder() for _ in range(3)]
single, master = R.Recorder(), R.Recorder()
for r in (*workers, single, master):
    r.same_clock = True
for i in range(6000):
    clock[0] += rng.random() * 0.002
    app = rng.lognormvariate(0, 1); db = app * rng.random()
    n = rng.randint(0, 30)
    header = None if rng.random() < 0.1 else (
        f'app;dur={app:.3f}, db;dur={db:.3f};desc="n={n}", start;desc="{clock[0] + 0.0005:.6f}"')
    kw = dict(request_type="GET", name=rng.choice(["/a", "/b"]), response_time=app + 1.0,
              response=Resp(header), context={}, exception=None, start_time=clock[0])
    w = workers[rng.randrange(3)]
    w.on_request(**kw); single.on_request(**kw)
    if rng.random() < 0.003:
        master.merge_wire(json.loads(json.dumps(w.take_wire())))
    if rng.random() < 0.002:
        master.compact(int(clock[0]) - 2)
for w in workers:
    master.merge_wire(json.loads(json.dumps(w.take_wire())))
problems, timed = [], 0
for sec, window in single.windows.items():
    for label, e in window.items():
        m = master.windows[sec][label]
        a = e.timing.encoded() if e.timing else {}
        b = m.timing.encoded() if m.timing else {}
        if set(a) != set(b):
            problems.append(f"columns {sec} {label} {sorted(a)} {sorted(b)}")
            continue
        for c in a:
            if not H.decode(a[c]).equals(H.decode(b[c])):
                problems.append(f"{c} differs {sec} {label}")
        timed += m.timing.count if m.timing else 0
first = next(iter(next(iter(single.windows.values())).values()))
print(json.dumps({"problems": problems, "timed": timed, "columns": sorted(first.timing.encoded())}))
"""


def test_worker_reports_merge_the_parts_exactly() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SIMULATION], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["problems"] == []
    assert 5000 < result["timed"] < 6000  # ~10% of responses had no header
    assert result["columns"] == sorted(["queue", "app", "db", "other", "queries"])
