"""The HTML report: sections and numbers (not pixels), escaping, self-containment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reports.report import render_report
from runfolder import hdr
from runfolder.reader import ALL, load_run
from tests.reports.samples import DEFAULT, HOSTILE, OPEN, PROFILED, REG_A, STEP


def _summary(runs_dir: Path, name: str) -> dict:
    return json.loads((runs_dir / name / "summary.json").read_text())


def test_default_report_has_every_section(reports: dict[str, str]) -> None:
    html = reports[DEFAULT]
    for section in ("summary", "targets", "time", "spectrum", "cpu", "environment"):
        assert f'id="{section}"' in html
    assert 'id="hotspots"' not in html  # not profiled
    assert 'id="knee"' not in html  # constant shape
    assert html.count("<svg") >= 12
    for title in (
        "Throughput (all endpoints)",
        "Active users",
        "Percentile spectrum: sync",
        "Latency percentiles: cached",
        "CPU: uncached",
    ):
        assert title in html


def test_summary_numbers_come_from_summary_json(runs_dir: Path, reports: dict[str, str]) -> None:
    html = reports[DEFAULT]
    row = _summary(runs_dir, DEFAULT)["rows"][0]  # sync
    items = row["endpoints"]["GET /items"]
    lat = items["latency_ms"]
    # p50 with how many samples lie above it, rps, sample count
    above = int(lat["count"] * 0.5)
    assert f"{lat['p50']:.3f} ({above:,})" in html
    assert f">{items['rps']:.1f}<" in html
    assert f">{lat['count']:,}<" in html
    # error % by status for POST /login
    login = row["endpoints"]["POST /login"]
    n = login["failures"]["401"]
    assert f"401: {n} ({100 * n / login['requests']:.2f}%)" in html


def test_warnings_generator_bound_and_thin(reports: dict[str, str]) -> None:
    html = reports[DEFAULT]
    warnings = html[html.index('id="warnings"') : html.index('id="summary"')]
    assert "cached: generator-bound" in warnings
    assert "thin samples" in warnings
    assert "⚠" in html  # thin percentiles marked in the table
    assert "generator-bound" in html[html.index('id="summary"') :]


def test_targets_side_by_side(reports: dict[str, str]) -> None:
    html = reports[DEFAULT]
    block = html[html.index('id="targets"') : html.index('id="time"')]
    for target in ("sync", "async", "cached", "uncached"):
        assert f"<th>{target}</th>" in block
    assert "Throughput by target" in block and "p99 latency by target" in block


def test_report_is_self_contained(reports: dict[str, str]) -> None:
    for name, html in reports.items():
        assert "<script" not in html.lower(), name
        assert "<link" not in html.lower(), name
        assert not re.search(r"<[^>]*\bsrc\s*=", html), name
        assert "@import" not in html and "@font-face" not in html, name
        assert not re.search(r"url\((?!#)", html), name  # only in-document references
        assert "default-src 'none'" in html


def test_svg_ids_are_unique(reports: dict[str, str]) -> None:
    ids = re.findall(r'\bid="([^"]+)"', reports[DEFAULT])
    assert len(ids) == len(set(ids))


def test_hostile_names_are_escaped(reports: dict[str, str]) -> None:
    html = reports[HOSTILE]
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "<script>alert(3)" not in html and "<b>host</b>" not in html
    assert "</script><script>alert(4)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text


def test_open_model_report_shows_corrected_latency(runs_dir: Path, reports: dict[str, str]) -> None:
    html = reports[OPEN]
    entry = _summary(runs_dir, OPEN)["rows"][0]["endpoints"]["GET /json"]
    corrected = entry["corrected_latency_ms"]["p99"]
    assert corrected > 500 > entry["latency_ms"]["p99"]  # the stall shows only when corrected
    assert "corrected for coordinated omission" in html
    assert f"{corrected:,.1f} (" in html
    assert "GET /json (corrected)" in html  # dashed spectrum line
    assert "Open-model schedule" in html


def test_step_report_has_latency_against_throughput(reports: dict[str, str]) -> None:
    html = reports[STEP]
    assert 'id="knee"' in html
    assert "p50 and p99 against throughput" in html


def test_profiled_report_links_hotspots(reports: dict[str, str]) -> None:
    html = reports[PROFILED]
    block = html[html.index('id="hotspots"') : html.index('id="environment"')]
    assert "fetch_world" in block and "targets/common/db.py:42" in block
    assert 'href="profiles/get_db.html"' in block
    assert 'href="profiles/speedscope.json"' in block
    assert "120 profiled requests" in block


def test_unsafe_profile_links_are_dropped(fresh_run) -> None:
    path = fresh_run(PROFILED)
    hot = json.loads((path / "profiles" / "hotspots.json").read_text())
    files = hot["cells"]["sync-gunicorn-sync-db"]["endpoints"]["GET /db"]["files"]
    files["html"] = "javascript:alert(1)"
    files["tail_html"] = "/etc/passwd"
    hot["speedscope"] = "https://example.com/x.json"
    (path / "profiles" / "hotspots.json").write_text(json.dumps(hot))
    html = render_report(path).read_text()
    assert "javascript:" not in html and "/etc/passwd" not in html
    assert "example.com" not in html


def test_repetitions_are_merged_not_averaged(runs_dir: Path, reports: dict[str, str]) -> None:
    run = load_run(runs_dir / REG_A)
    hist = run.cell_histograms(run.cell_ids()[0]).endpoints[ALL]
    p99 = hdr.percentile_ms(hist, 99.0)
    above = int(hist.get_total_count() * 0.01)
    assert f"{p99:.3f} ({above:,})" in reports[REG_A]
    assert "5" in reports[REG_A]


def test_environment_section(reports: dict[str, str]) -> None:
    html = reports[DEFAULT]
    env = html[html.index('id="environment"') :]
    for text in (
        "bench-1",
        "Intel(R) Xeon(R)",
        "3.11.2",
        "f82d9e4",
        "gunicorn --workers 2",
        "&#34;shape&#34;: &#34;constant&#34;",
        "hdrhistogram",
    ):
        assert text in env


def test_default_report_is_small(runs_dir: Path) -> None:
    size = (runs_dir / DEFAULT / "report.html").stat().st_size
    assert size < 1_000_000


def test_report_of_corrupt_folder_raises(runs_dir: Path) -> None:
    from runfolder.errors import RunFolderError
    from tests.reports.samples import CORRUPT, HALF

    for name in (CORRUPT, HALF):
        with pytest.raises(RunFolderError):
            render_report(runs_dir / name)
        assert not (runs_dir / name / "report.html").exists()


def test_littles_law_check(reports: dict[str, str], fresh_run) -> None:
    assert "Little&#39;s law check" in reports[DEFAULT] or "Little's law check" in reports[DEFAULT]
    path = fresh_run(OPEN)
    summary = json.loads((path / "summary.json").read_text())
    row = summary["rows"][0]
    row["rate"], row["open_model"], row["users"] = None, None, 2
    row["endpoints"]["ALL"]["rps"] = 5000.0  # 5000/s x ~2 ms = ~10 in flight, 2 users
    (path / "summary.json").write_text(json.dumps(summary))
    html = render_report(path).read_text()
    warnings = html[html.index('id="warnings"') : html.index('id="summary"')]
    assert "Little&#39;s law fails" in warnings


def test_repetitions_table(runs_dir: Path, reports: dict[str, str]) -> None:
    html = reports[REG_A]
    assert "Repetitions (all endpoints)" in html
    for row in _summary(runs_dir, REG_A)["rows"]:
        assert f">{row['endpoints']['ALL']['rps']:.1f}<" in html
    assert "Repetitions (all endpoints)" not in reports[DEFAULT]
