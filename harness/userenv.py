"""The user's environment settings, read and checked at the edge (before any run folder).

``--app-python`` (the interpreter and its version), ``--env`` / ``--env-file`` (parsed as
python-dotenv, and so ``flask run``, reads them), and how meta.json shows the variables
(secret-looking values masked). What runs the server under that environment is
``harness/stack/appenv.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from runfolder.errors import ConfigError

MASK = "***"
SECRET_WORDS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "KEY", "CREDENTIAL", "AUTH", "PRIVATE")


def resolve_python(path: Path) -> Path:
    """The interpreter of ``--app-python``: a virtualenv folder or an interpreter file."""
    path = path.expanduser()
    if path.is_dir():
        for name in ("bin/python", "bin/python3", "Scripts/python.exe"):
            if (path / name).is_file():
                return (path / name).absolute()
        raise ConfigError(
            f"--app-python: {path} has no bin/python; give a virtualenv folder "
            "(python -m venv DIR) or its interpreter"
        )
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ConfigError(
            f"--app-python: {path} is neither a virtualenv folder nor a Python interpreter"
        )
    return path.absolute()  # not resolved: a venv's bin/python is a symlink to its base


@cache
def python_version(python: Path) -> tuple[int, int, int]:
    """The version of ``python``, asked once per interpreter."""
    try:
        out = subprocess.run(
            [str(python), "-c", "import sys; print(*sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"--app-python: {python} does not run ({exc})") from None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 3:
        raise ConfigError(f"--app-python: {python} is not a working Python interpreter")
    major, minor, micro = (int(p) for p in parts)
    return major, minor, micro


def check_python(python: Path) -> None:
    """The app's interpreter must be the harness's ``major.minor`` (see the module doc)."""
    theirs = python_version(python)
    ours = sys.version_info[:2]
    if theirs[:2] != ours:
        raise ConfigError(
            f"--app-python: {python} is Python {theirs[0]}.{theirs[1]}, the harness runs "
            f"{ours[0]}.{ours[1]} and their compiled pieces cannot mix; make the app's venv "
            f"with python{ours[0]}.{ours[1]} -m venv, or install the harness under "
            f"Python {theirs[0]}.{theirs[1]}"
        )


def parse_env_pairs(values: Iterable[str], option: str = "--env") -> dict[str, str]:
    """``KEY=VALUE`` strings (an empty value is allowed, a missing ``=`` is not)."""
    env: dict[str, str] = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"{option}: '{text}' is not KEY=VALUE, e.g. FLASK_DEBUG=0")
        env[key] = value
    return env


def parse_env_file(path: Path) -> dict[str, str]:
    """A ``.env`` file as python-dotenv (and so ``flask run``) reads it, without
    interpolation; a line it cannot read is an error naming the line."""
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--env-file: cannot read {path} ({exc.strerror})") from None
    env: dict[str, str] = {}
    import io

    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            shown = binding.original.string.strip()[:60]
            raise ConfigError(
                f"--env-file: {path} line {line} is not KEY=VALUE ('{shown}'); "
                "fix or comment it out with #"
            )
        if binding.key is None:
            continue  # a blank line or a comment
        if binding.value is None:
            raise ConfigError(
                f"--env-file: {path} line {line}: {binding.key} has no value; "
                f"write {binding.key}=VALUE"
            )
        env[binding.key] = binding.value
    return env


def secret_name(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def mask_value(name: str, value: str) -> str:
    """The value as meta.json may show it: masked for a secret-looking name, and a URL
    keeps everything but its password."""
    if secret_name(name):
        return MASK
    if "://" in value:
        try:
            parts = urlsplit(value)
            if parts.password:
                netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
                return urlunsplit(parts._replace(netloc=netloc))
        except ValueError:
            pass
    return value


def mask_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: mask_value(k, v) for k, v in sorted(env.items())}
