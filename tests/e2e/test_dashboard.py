"""``bench.py dashboard`` driven through Locust's web UI in headless Chromium.

The user's path from issue 6: start the dashboard, open the UI, start a test, watch
requests being counted, stop it; the harness turns the test into a complete run folder.
A second test in the same UI becomes a second run folder; Ctrl-C stops every process.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from harness.stack.processes import free_port
from tests.e2e.helpers import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ENDPOINT = "GET /json"  # the recorder's and the summary's name for Locust's "/json" row
TEST_SECONDS = 4.0  # long enough for a steady second in the summary (first and last excluded)
UI_TIMEOUT_MS = 20_000


class Dashboard:
    """``bench.py dashboard`` as a child process; its stdout read line by line in a thread."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {**os.environ, "COLUMNS": "500"}  # rich would wrap long paths at 80 columns
        with _sigint_reaches_child():
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "bench.py"), *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                self._queue.put(line)
        self._queue.put(None)

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(
                    f"dashboard exited ({self.proc.wait()}) before printing "
                    f"{pattern!r}:\n{self.output()}"
                )
            if match := re.search(pattern, line):
                return match
        pytest.fail(f"no line matching {pattern!r} after {timeout:.0f}s:\n{self.output()}")

    def interrupt(self, timeout: float) -> int:
        """Ctrl-C, as a person quits; returns the exit code."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


@contextlib.contextmanager
def _sigint_reaches_child() -> Iterator[None]:
    """An ignored SIGINT survives exec (pytest started in the background by a shell without
    job control has one), and Python then never raises KeyboardInterrupt: make sure the child
    starts with the default disposition (exec resets a handled signal to default)."""
    previous = signal.getsignal(signal.SIGINT)
    ignored = previous is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, previous)


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    left = []
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(p)
    return left


def _describe(p: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return f"{p.pid} {' '.join(p.cmdline()[:4])}"
    return str(p.pid)


class ConsoleErrors:
    """Browser console errors and uncaught page errors, minus network noise of a closed box.

    Ignored, and only these: ``console.error`` messages whose source is not the dashboard
    itself (another host: the machine has no network, so any external fetch fails) or is a
    favicon (browsers request one on their own; a missing icon is no fault of the UI).
    Uncaught JavaScript exceptions (``pageerror``) are never ignored.
    """

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []
        self.ignored: list[str] = []

    def on_console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        source = (msg.location or {}).get("url") or ""
        text = f"console.error: {msg.text} (at {source or '?'})"
        if self._is_noise(source, msg.text):
            self.ignored.append(text)
        else:
            self.errors.append(text)

    def on_page_error(self, exc: Any) -> None:
        self.errors.append(f"uncaught: {exc}")

    def _is_noise(self, source: str, text: str) -> bool:
        if "favicon" in source or "favicon" in text:
            return True
        parts = urlsplit(source)
        return bool(
            parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" != self.origin
        )


def _ui_requests(page: Any, name: str) -> int:
    """The ``# Requests`` cell of the statistics row named ``name`` (0 until it shows)."""
    headers = [h.strip() for h in page.locator("table thead th").all_inner_texts()]
    if "# Requests" not in headers or "Name" not in headers:
        return 0
    name_col, count_col = headers.index("Name"), headers.index("# Requests")
    for cells in (r.locator("td").all_inner_texts() for r in page.locator("table tbody tr").all()):
        if len(cells) > max(name_col, count_col) and cells[name_col].strip() == name:
            return int(re.sub(r"[^\d]", "", cells[count_col]) or 0)
    return 0


def _wait_status(page: Any, state: str) -> None:
    """The header's Status reads ``state`` (the UI polls the runner every 2 s)."""
    from playwright.sync_api import expect

    header = page.locator("header")
    expect(header.get_by_text(state, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)


def _wait_stopped(page: Any, url: str) -> None:
    """The header's Status reads "stopped" once Locust has stopped the test.

    Locust 2.47's UI polls ``/stats/requests`` only while a test spawns or runs: when a poll
    lands in the short "cleanup" state between Stop and "stopped", the page shows "cleanup"
    until it is reloaded. A reload, as a person would do, then shows the final state.
    """
    from playwright.sync_api import expect

    header = page.locator("header")
    stopped = header.get_by_text("stopped", exact=True)
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while time.monotonic() < deadline and not stopped.is_visible():
        if (
            header.get_by_text("cleanup", exact=True).is_visible()
            and page.request.get(url + "/stats/requests").json()["state"] == "stopped"
        ):
            print("the UI kept showing 'cleanup' after the test stopped: reloading it")
            page.reload()
        page.wait_for_timeout(250)
    expect(stopped).to_be_visible(timeout=1_000)


def _start_ui_test(page: Any, form: Any, users: int) -> float:
    """Start a test from ``form``; returns once the UI counts /json requests."""

    form.locator("input[name=userCount]").fill(str(users))
    form.locator("input[name=spawnRate]").fill(str(users))
    form.locator("button[type=submit]").click()
    started = time.monotonic()
    _wait_status(page, "running")
    deadline = started + UI_TIMEOUT_MS / 1000
    while _ui_requests(page, "/json") == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert _ui_requests(page, "/json") > 0, "the statistics table counts no /json requests"
    return started


def _run_ui_test(page: Any, url: str, form: Any, users: int, shot: Path) -> int:
    """Start a test, let it run, stop it with the Stop button; returns the UI's /json count."""

    started = _start_ui_test(page, form, users)
    page.wait_for_timeout(max(0.0, TEST_SECONDS - (time.monotonic() - started)) * 1000)
    page.get_by_role("button", name="Stop", exact=True).click()
    _wait_stopped(page, url)
    count = _ui_requests(page, "/json")
    page.screenshot(path=str(shot), full_page=True)
    assert count > 0, f"the statistics table shows no /json requests (screenshot: {shot})"
    return count


def _new_test_form(page: Any) -> Any:
    """After a test stopped, "New" opens the start form again, in a dialog."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="New", exact=True).click()
    dialog = page.locator("[role=presentation] form")
    expect(dialog.locator("input[name=userCount]")).to_be_visible(timeout=UI_TIMEOUT_MS)
    return dialog


def _complete_runs(out: Path) -> list[Path]:
    runs = []
    for meta_path in sorted(out.glob("*/meta.json")):
        with contextlib.suppress(OSError, ValueError):
            meta = json.loads(meta_path.read_text())
            if meta.get("status") == "complete" and (meta_path.parent / "report.html").exists():
                runs.append(meta_path.parent)
    return runs


def _wait_runs(out: Path, n: int, dash: Dashboard, timeout: float) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _complete_runs(out)
        if len(runs) >= n:
            return runs
        if dash.proc.poll() is not None:
            pytest.fail(f"dashboard exited ({dash.proc.returncode}):\n{dash.output()}")
        time.sleep(0.25)
    found = sorted(p.name for p in out.glob("*")) if out.is_dir() else []
    pytest.fail(
        f"{n} complete run folder(s) expected in {out} after {timeout:.0f}s, "
        f"found {found}:\n{dash.output()}"
    )


def _check_run(run_dir: Path, ui_count: int) -> dict[str, Any]:
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "complete" and meta["mode"] == "dashboard", meta
    assert meta["error"] is None and meta["finished"]
    (row,) = json.loads((run_dir / "summary.json").read_text())["rows"]
    assert row["target"] == "sync" and row["scenario"] == "json", row
    assert row["server"] == "gunicorn-gthread" and row["workers"] == 1, row
    endpoint = row["endpoints"][ENDPOINT]
    assert endpoint["requests"] > 0, endpoint
    assert endpoint["latency_ms"]["count"] > 0, endpoint
    assert row["dir"].startswith("cells/") and row["dir"].endswith("/r0"), row["dir"]
    recorder = json.loads((run_dir / row["dir"] / "recorder.json").read_text())
    assert recorder["unit"] == "us"
    # the UI polls its numbers, so it never shows more than Locust counted in the end
    assert recorder["locust_totals"][ENDPOINT]["requests"] >= ui_count, (recorder, ui_count)
    assert (run_dir / "report.html").stat().st_size > 0
    return recorder


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_dashboard_tests_become_run_folders(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "runs"
    port = free_port()
    args = [
        "dashboard",
        "--target",
        "sync",
        "--scenario",
        "json",
        "--server",
        "gunicorn-gthread",
        "--workers",
        "1",
        "--users",
        "2",
        "--web-port",
        str(port),
        "--out",
        str(out),
    ]
    dash = Dashboard(args, cwd=tmp_path)
    kids: list[psutil.Process] = []
    try:
        url = dash.wait_for_line(r"Locust dashboard: (http://127\.0\.0\.1:\d+)/?", 90).group(1)
        assert url == f"http://127.0.0.1:{port}"
        kids = psutil.Process(dash.proc.pid).children(recursive=True)
        started = " ".join(" ".join(k.cmdline()) for k in kids)
        for what in ("gunicorn", "locust", "targets.upstream"):
            assert what in started, f"no {what} process under the dashboard: {started}"

        console = ConsoleErrors(url)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.set_default_timeout(UI_TIMEOUT_MS)
                page.on("console", console.on_console)
                page.on("pageerror", console.on_page_error)
                page.goto(url + "/")
                form = page.locator("main form")
                sync_api.expect(form.locator("input[name=userCount]")).to_be_visible(
                    timeout=UI_TIMEOUT_MS
                )
                first = _run_ui_test(page, url, form, 2, tmp_path / "dashboard-test-1.png")
                second = _run_ui_test(
                    page, url, _new_test_form(page), 2, tmp_path / "dashboard-test-2.png"
                )
                # a third test is still running when the user quits (below)
                third_started = _start_ui_test(page, _new_test_form(page), 2)
                page.screenshot(path=str(tmp_path / "dashboard-test-3.png"), full_page=True)
            finally:
                browser.close()
        print("ignored console errors:", *console.ignored or ["none"], sep="\n  ")
        assert not console.errors, "\n".join(console.errors)

        runs = _wait_runs(out, 2, dash, timeout=60)
        assert len(runs) == 2, runs
        recorders = [_check_run(runs[0], first), _check_run(runs[1], second)]
        # two separate tests, not one recording growing across both
        first_end = recorders[0]["start_unix"] + max(w["t"] for w in recorders[0]["windows"])
        assert first_end < recorders[1]["start_unix"], (first_end, recorders[1]["start_unix"])

        time.sleep(max(0.0, TEST_SECONDS - (time.monotonic() - third_started)))
        assert dash.proc.poll() is None, dash.output()
        kids += [k for k in psutil.Process(dash.proc.pid).children(recursive=True) if k not in kids]
        code = dash.interrupt(timeout=45)
        assert code in (0, 130), f"exit code {code}:\n{dash.output()}"
        assert "Dashboard stopped." in dash.output() or code == 130, dash.output()
        left = _alive(kids)
        assert not left, f"left running after Ctrl-C: {[_describe(p) for p in left]}"

        # the test running at Ctrl-C is kept too, and every saved test was announced
        runs = _complete_runs(out)
        assert len(runs) == 3, (runs, dash.output())
        third = _check_run(runs[2], 1)
        assert recorders[1]["start_unix"] < third["start_unix"]
        saved = [line for line in dash.lines if line.startswith("Test saved: ")]
        assert len(saved) == 3 and all(str(r) in "\n".join(saved) for r in runs), dash.output()
    finally:
        if dash.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                dash.interrupt(timeout=30)
        dash.kill()
        for p in _alive(kids):  # orphans are no longer under pytest: conftest cannot see them
            with contextlib.suppress(psutil.Error):
                p.kill()
