"""Generator health across processes: two Locust processes sharing the generator's one
CPU against a static nginx page (which does ten times what they can send) are flagged,
though neither process alone is above the per-process limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.sections import available_cpus
from harness.stack import nginx
from harness.stack.processes import Supervisor, free_port
from tests.e2e.helpers import bench, latest_run, load

pytestmark = pytest.mark.e2e

LOCUSTFILE = """
from locust import FastHttpUser, task


class StaticUser(FastHttpUser):
    @task
    def page(self):
        self.client.get("/", name="/")
"""


def static_nginx(sup: Supervisor, folder: Path, cpu: int) -> str:
    conf = nginx.write_nginx_config(folder, free_port(), [free_port()], keepalive=0)
    text = conf.read_text().replace(
        "proxy_pass http://bench_instances;", 'default_type text/plain;\n return 200 "ok\\n";'
    )
    conf.write_text(text)
    child = nginx.start_nginx(sup, conf, folder / "nginx.log", cpus=(cpu,))
    return str(child.url)  # type: ignore[attr-defined]


@pytest.mark.skipif(len(available_cpus()) < 2, reason="needs two CPUs: generator and server")
def test_two_locust_processes_on_one_cpu_are_generator_bound(tmp_path: Path) -> None:
    locustfile = tmp_path / "static_page.py"
    locustfile.write_text(LOCUSTFILE)
    with Supervisor() as sup:
        url = static_nginx(sup, tmp_path / "nginx", cpu=1)
        result = bench(
            [
                "run",
                "--host",
                url,
                "--scenario",
                str(locustfile),
                "--processes",
                "2",
                "--generator-cpus",
                "0",
                "--server-cpus",
                "1",
                "--users",
                "32",
                "--duration",
                "4s",
                "--warmup",
                "1s",
                "--out",
                str(tmp_path / "runs"),
            ],
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stderr
    row = load(latest_run(tmp_path / "runs"), "summary.json")["rows"][0]
    assert row["generator_cpus"] == 1
    assert row["generator_bound"] is True, row
    # no single process is above the limit: the CPU they share is (alone, on a quiet
    # machine: "together"; on a busy one, others take part of it too: "busy")
    assert not any("a Locust process" in reason for reason in row["generator_saturated"]), row
    assert any("together" in r or "busy" in r for r in row["generator_saturated"]), row
    assert any("generator-bound" in w and "--generator-cpus" in w for w in row["warnings"])
    assert row["verify"].startswith("skipped")
    # both workers' heartbeats reached the master and were recorded per worker
    workers = row["generator_worker_cpu_pct"]
    assert len(workers) == 2 and all(pct >= 0 for pct in workers.values()), workers
