"""What a result was measured on: machine, Python, packages, commit."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import psutil

from harness.stack.appenv import launcher, overlay
from harness.userenv import mask_env

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


def server_environment(
    app: str,
    app_dir: Path | None,
    python: Path | None,
    given: Mapping[str, str],
    server: str,
) -> dict[str, object]:
    """What a user's app ran with, asked of the server's own interpreter in the server's
    environment: Python, every package it sees (the app's first; ``from_harness`` names
    those the harness's overlay supplied), the app's distribution and version, and the
    variables the server was given (secret-looking values masked; inherited ones by name,
    since the shell's values are not the harness's to store)."""
    module = "harness.stack.appenv"
    if python is not None:
        argv = [*launcher(python, server, module), app, str(overlay(server))]
    else:
        argv = [sys.executable, "-m", module, app, ""]
    try:
        out = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=str(app_dir) if app_dir else None,
            env={**os.environ, **given},
        )
        data: dict[str, object] = json.loads(out.stdout) if out.returncode == 0 else {}
        if out.returncode != 0:
            data["error"] = (out.stderr.strip().splitlines() or ["no output"])[-1]
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as exc:
        data = {"error": str(exc)}
    data["env"] = mask_env(given)
    data["inherited"] = sorted(k for k in os.environ if k not in given)
    return data
