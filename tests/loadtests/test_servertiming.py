"""Server-Timing parsing and the recorder's per-part histograms (merge across processes)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests import histograms as H
from loadtests import servertiming as ST

REPO = Path(__file__).resolve().parents[2]

FULL = (
    'app;dur=10.000, db;dur=6.500;desc="n=20", up;dur=1.000, tpl;dur=0.500, cpu;dur=2.250, '
    'start;desc="1000.004"'
)


def test_parse_reads_every_part_and_the_query_count() -> None:
    parts = ST.parse(FULL)
    assert parts == {
        "app": 10.0,
        "db": 6.5,
        "queries": 20.0,
        "up": 1.0,
        "tpl": 0.5,
        "cpu": 2.25,
        "start": 1000.004,
    }


def test_row_splits_latency_and_uses_one_clock_only_when_plausible() -> None:
    # same clock: queue is the server's start minus the client's send
    q, app, db, up, tpl, other, cpu, n = ST.row(FULL, 15.0, 1000.0, clock=True)
    assert (q, app, db, up, tpl, other, cpu, n) == (4000, 10000, 6500, 1000, 500, 2000, 2250, 20)
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
    _queue, app, db, up, tpl, other, cpu, n = values
    assert (db, up, tpl, cpu, n) == (-1, -1, -1, -1, -1)
    assert other == app == 2000
    buf = ST.TimingBuffer()
    buf.add(values)
    assert set(buf.encoded()) == {"queue", "app", "other"}
    assert ST.row("foo;dur=1", 3.0, None, clock=False) is None  # no app part: not ours


def test_cpu_is_not_a_part_of_the_wall_time_and_its_mean_is_exact() -> None:
    buf = ST.TimingBuffer()
    for cpu in ("0.101", "0.102", "0.104"):  # one histogram bucket at 2 significant digits
        values = ST.row(f"app;dur=1.000, cpu;dur={cpu}", 2.0, None, clock=False)
        assert values is not None and values[ST.COLUMNS.index("other")] == 1000  # app, whole
        buf.add(values)
    wire = buf.to_wire()
    assert wire["cpu_sum"] == [3, 307]  # µs, exact
    assert "cpu_absent" not in wire
    assert H.total_count(ST.decode_document(wire)["cpu"]) == 3


def test_an_absent_cpu_figure_keeps_the_servers_reason() -> None:
    gevent = 'app;dur=3.000, tpl;dur=0, cpu;desc="absent: gevent", start;desc="5.0"'
    assert "cpu" not in ST.parse(gevent)
    assert ST.absent_reason(gevent) == "gevent"
    assert ST.absent_reason('app;dur=1, cpu;desc="absent: async view"') == "async view"
    assert ST.absent_reason("app;dur=1, cpu;dur=0.5") is None
    assert ST.absent_reason('app;dur=1, mycpu;desc="absent: x"') is None  # not our entry
    values = ST.row(gevent, 4.0, None, clock=False)
    assert values is not None and values[ST.COLUMNS.index("cpu")] < -1
    plain = ST.row("app;dur=1.000", 2.0, None, clock=False)  # not sent at all: no reason
    assert plain is not None and plain[ST.COLUMNS.index("cpu")] == -1
    a, b = ST.TimingBuffer(), ST.TimingBuffer()
    a.add(values)
    a.add(values)
    a.add(plain)
    b.add(ST.row('app;dur=1, cpu;desc="absent: async view"', 2.0, None, clock=False))
    b.add(ST.row("app;dur=1, cpu;dur=0.700", 2.0, None, clock=False))
    a.merge_wire(json.loads(json.dumps(b.to_wire())))
    wire = a.to_wire()
    assert wire["cpu_absent"] == {"async view": 1, "gevent": 2}
    assert wire["cpu_sum"] == [1, 700]
    assert H.total_count(ST.decode_document(wire)["cpu"]) == 1  # reasons are not values


def test_a_server_inventing_reasons_runs_into_other(monkeypatch: pytest.MonkeyPatch) -> None:
    # the reasons are process-wide: the made-up ones must not crowd out other tests'
    monkeypatch.setattr(ST, "_REASONS", list(ST._REASONS))
    codes = {ST.reason_code(f"made-up {i}") for i in range(ST.MAX_REASONS + 5)}
    assert len(codes) <= ST.MAX_REASONS
    assert ST.code_reason(ST.reason_code("yet another")) == ST.OTHER_REASON


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
import loadtests.recording as R
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
    cpu = (f'cpu;dur={app * rng.random():.3f}' if rng.random() < 0.8
           else f'cpu;desc="absent: {rng.choice(["gevent", "async view"])}"')
    header = None if rng.random() < 0.1 else (
        f'app;dur={app:.3f}, db;dur={db:.3f};desc="n={n}", {cpu}, '
        f'start;desc="{clock[0] + 0.0005:.6f}"')
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
        if e.timing:
            wa, wb = e.timing.to_wire(), m.timing.to_wire()
            for key in ("cpu_sum", "cpu_absent", "count"):
                if wa.get(key) != wb.get(key):
                    problems.append(f"{key} differs {sec} {label}: {wa.get(key)} {wb.get(key)}")
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
    assert result["columns"] == sorted(["queue", "app", "db", "other", "cpu", "queries"])
