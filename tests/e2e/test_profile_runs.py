"""`bench.py profile` on sync and async views under gthread and gevent: hotspots name the
workload. (cached and uncached share the sync views; tests/profiles covers them in-process.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.helpers import bench, latest_run, load
from tests.profiles.test_aggregate import validate_speedscope

pytestmark = pytest.mark.e2e

MIX = """
from locust import FastHttpUser, constant, task


class Mix(FastHttpUser):
    wait_time = constant(0)

    @task
    def db(self):
        self.client.get("/db", name="/db")

    @task
    def fortunes(self):
        self.client.get("/fortunes", name="/fortunes")

    @task
    def upstream(self):
        self.client.get("/upstream?calls=2&delay_ms=5", name="/upstream")
"""

# what each endpoint's own work looks like in a hotspot table: (file part, function part)
WORKLOAD = {
    "GET /db": ("common/db.py", ""),
    "GET /fortunes": ("", "render"),
    "GET /upstream": ("upstream_client.py", ""),
}


def names(entries: list[dict]) -> list[tuple[str, str]]:
    return [(e["file"], e["function"]) for e in entries]


@pytest.fixture(scope="module")
def profiled_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("profile")
    (workdir / "mix.py").write_text(MIX)
    targets = [a for t in ("sync", "async") for a in ("--target", t)]
    result = bench(
        [
            "profile",
            *targets,
            "--server",
            "gunicorn-gthread",
            "--server",
            "gunicorn-gevent",
            "--scenario",
            "mix.py",
            "--warmup",
            "1s",
            "--duration",
            "3s",
            "--users",
            "4",
            "--workers",
            "1",
        ],
        workdir,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return latest_run(workdir / "runs")


def test_hotspots_name_each_targets_own_work(profiled_run: Path) -> None:
    assert load(profiled_run, "meta.json")["profiled"] is True
    hotspots = load(profiled_run / "profiles", "hotspots.json")["cells"]
    assert len(hotspots) == 4  # 2 targets x 2 servers
    for cell_id, cell in hotspots.items():
        for endpoint, (file_part, func_part) in WORKLOAD.items():
            entry = cell["endpoints"][endpoint]
            # gevent profiles one request at a time per worker (pyinstrument's hook is per
            # thread, and greenlets share one): fewer profiles in a short run there
            least = 1 if "gevent" in cell_id else 5
            assert entry["profiled_requests"] >= least, (cell_id, endpoint)
            top = names(entry["hotspots"][:15])
            assert any(file_part in f and func_part in fn.lower() for f, fn in top), (
                cell_id,
                endpoint,
                top,
            )


def test_outputs_exist_and_speedscope_validates(profiled_run: Path) -> None:
    doc = json.loads((profiled_run / "profiles" / "speedscope.json").read_text())
    validate_speedscope(doc)
    hotspots = load(profiled_run / "profiles", "hotspots.json")
    for cell in hotspots["cells"].values():
        files = cell["endpoints"]["GET /db"]["files"]
        for key in ("html", "folded"):
            assert (profiled_run / files[key]).exists()
    assert (profiled_run / "report.html").exists()


def test_profiled_requests_are_kept_out_of_latency(profiled_run: Path) -> None:
    from loadtests import histograms as H

    rows = load(profiled_run, "summary.json")["rows"]
    assert rows
    profiled_total = 0
    for row in rows:
        recorder = load(profiled_run / row["dir"], "recorder.json")
        for window in recorder["windows"]:
            for entry in window["endpoints"].values():
                in_hist = H.decode(entry["hist"]).get_total_count() if entry["hist"] else 0
                assert in_hist == entry["count"]  # successes without the profiled ones
                profiled_total += entry["profiled"]
        sent = sum(
            e["count"] + sum(e["failures"].values()) + e["profiled"]
            for w in recorder["windows"]
            for e in w["endpoints"].values()
        )
        assert sent == sum(t["requests"] for t in recorder["locust_totals"].values())
    assert profiled_total > 0


def test_nothing_profiles_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "mix.py").write_text(MIX)
    result = bench(
        [
            "run",
            "--target",
            "sync",
            "--scenario",
            "mix.py",
            "--warmup",
            "1s",
            "--duration",
            "2s",
            "--users",
            "2",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = latest_run(tmp_path / "runs")
    assert load(run_dir, "meta.json")["profiled"] is False
    assert not (run_dir / "profiles").exists()
    assert not list(run_dir.glob("cells/*/r0/profiles"))
    (row,) = load(run_dir, "summary.json")["rows"]
    assert all(e["profiled"] == 0 for e in row["endpoints"].values())
