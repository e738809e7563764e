"""What a result was measured on: machine, Python, packages, commit."""

from __future__ import annotations

import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import psutil

PACKAGES = (
    "flask",
    "werkzeug",
    "jinja2",
    "sqlalchemy",
    "flask-caching",
    "gunicorn",
    "gevent",
    "waitress",
    "locust",
    "geventhttpclient",
    "hdrhistogram",
    "pyinstrument",
    "psutil",
    "pandas",
    "matplotlib",
    "scipy",
    "redis",
    "httpx",
    "aiohttp",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, object]:
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpus": psutil.cpu_count(logical=True),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
    }


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_info(repo: Path) -> dict[str, object]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def environment(repo: Path) -> dict[str, object]:
    return {
        "git": git_info(repo),
        "machine": machine_info(),
        "python": platform.python_version(),
        "packages": package_versions(),
    }
