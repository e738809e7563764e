"""The report and a comparison in real headless Chromium: no console errors, no network,
every chart drawn. Screenshots land in pytest's tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reports.compare import compare_runs as compare
from reports.render.html import write_html
from tests.reports.samples import DEFAULT, HOSTILE, OPEN, PROFILED, REG_A, REG_B, STEP


def compare_runs(dirs: list[Path], out: Path, **kw: Any) -> Any:
    """compare_runs, with the HTML page written into ``out`` as the CLI does."""
    cmp = compare(dirs, **kw)
    cmp.html_path = write_html(cmp, out)
    return cmp


CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
]


def _check_page(page, url: str, shot: Path) -> int:
    console_errors: list[str] = []
    page_errors: list[str] = []
    failed: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith("file:") else None)
    page.goto(url, wait_until="load")
    boxes = page.eval_on_selector_all(
        "svg.chart",
        "els => els.map(e => { const r = e.getBoundingClientRect(); "
        "return [r.width, r.height, e.querySelectorAll('path, use, text').length]; })",
    )
    page.screenshot(path=str(shot), full_page=True)
    assert not console_errors, console_errors
    assert not page_errors, page_errors
    assert not failed, failed
    assert not foreign, foreign
    assert boxes, "no charts"
    for width, height, drawn in boxes:
        assert width > 50 and height > 30 and drawn > 5
    return len(boxes)


def test_report_and_comparison_render_in_chromium(
    runs_dir: Path, tmp_path: Path, reports: dict[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    pages = {
        name: runs_dir / name / "report.html" for name in (DEFAULT, PROFILED, OPEN, STEP, HOSTILE)
    }
    cmp = compare_runs([runs_dir / REG_A, runs_dir / REG_B], tmp_path, fail_on="p99:+10%")
    pages["comparison"] = cmp.html_path
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            counts = {}
            for name, path in pages.items():
                shot = tmp_path / f"{name}.png"
                counts[name] = _check_page(page, path.resolve().as_uri(), shot)
                assert shot.stat().st_size > 10_000
            # the hostile endpoint is shown as text, and nothing ran
            page.goto(pages[HOSTILE].resolve().as_uri())
            assert "<script>alert(1)</script>" in page.inner_text("#summary")
            assert page.evaluate("document.scripts.length") == 0
        finally:
            browser.close()
    assert counts[DEFAULT] >= 12


def test_report_tables_fit_a_1400_px_window(runs_dir: Path, tmp_path: Path, reports) -> None:
    """No table needs a horizontal scroll bar at 1400 px, and the lead comes first."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for name in (DEFAULT, PROFILED, OPEN, STEP):
                page.goto((runs_dir / name / "report.html").resolve().as_uri())
                wide = page.eval_on_selector_all(
                    ".table-wrap",
                    "els => els.filter(e => e.scrollWidth > e.clientWidth + 1)"
                    ".map(e => [e.closest('section').id, e.scrollWidth, e.clientWidth])",
                )
                assert wide == [], (name, wide)
                assert page.evaluate("document.documentElement.scrollWidth") <= 1400
                first = page.eval_on_selector("main section", "s => s.id")
                assert first == "lead", name
                page.screenshot(path=str(tmp_path / f"{name}-1400.png"))
        finally:
            browser.close()
