"""CI=true turns a skip into a failure (pytester runs a tiny suite in a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_skipping_suite(tmp_path: Path, ci: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_skip.py").write_text(
        "import pytest\n\ndef test_needs_tool():\n    pytest.skip('no such tool')\n"
    )
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:benchmark",
            str(tmp_path / "test_skip.py"),
            "--rootdir",
            str(tmp_path),
            "-c",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "CI": ci, "PYTHONPATH": str(REPO)},
    )


def test_skip_fails_under_ci(tmp_path: Path) -> None:
    result = run_skipping_suite(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert "skipped under CI=true" in result.stdout


def test_skip_stays_a_skip_locally(tmp_path: Path) -> None:
    result = run_skipping_suite(tmp_path, "")
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
