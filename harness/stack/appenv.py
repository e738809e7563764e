"""The user's app in its own environment: its interpreter, its packages, its variables.

Why the app's own interpreter (``--app-python``) rather than the harness's with the app's
site-packages prepended: a virtualenv's site-packages is more than a folder on
``sys.path``. Its ``.pth`` files (editable installs, namespace packages) only run when
the interpreter that owns it starts, so the app's interpreter is the one that sees the
app exactly as ``flask run`` in that venv would.

The server still needs the harness's pieces: gunicorn (or waitress, gevent),
pyinstrument and the ``profiles`` middleware (and, for route discovery, ``harness`` and
``runfolder``). They come from a small *overlay*: a folder of symlinks to exactly those
packages of the harness's environment (with their dist-info, so their versions are seen),
put at the END of ``sys.path`` by ``BOOT``. The app's packages win wherever both have
one (its own gunicorn or Flask), and nothing else of the harness's environment leaks in:
a package the app forgot to install still fails to import, as it would in production.
The overlay's compiled extensions (pyinstrument's sampler, gevent, greenlet) are built for
the harness's Python, so both interpreters must share ``major.minor``.

This module runs in two places: in the harness, and (``python -m harness.stack.appenv``)
under the app's interpreter to say what it has; so it imports only the standard library
and ``runfolder.errors`` at the top.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from runfolder.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
# the project's packages the server or route discovery imports under the app's interpreter
OWN_PACKAGES = ("profiles", "harness", "runfolder")
# what each server kind imports from the harness's environment (with their requirements)
SERVER_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "gunicorn-sync": ("gunicorn",),
    "gunicorn-gthread": ("gunicorn",),
    "gunicorn-gevent": ("gunicorn", "gevent"),
    "waitress": ("waitress",),
    "werkzeug": (),
}
ALWAYS = ("pyinstrument",)  # the profiling middleware
SECRET_WORDS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "KEY", "CREDENTIAL", "AUTH", "PRIVATE")
MASK = "***"

# ``python -c BOOT OVERLAY MODULE ARGS...``: the overlay goes last on sys.path, then MODULE
# runs as ``python -m MODULE ARGS...`` would (sys.path[0] stays the working folder)
BOOT = (
    "import runpy, sys; sys.path.append(sys.argv[1]); m = sys.argv[2]; "
    "sys.argv = [m, *sys.argv[3:]]; runpy.run_module(m, run_name='__main__', alter_sys=True)"
)


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


def _requirements(dist: Any) -> list[str]:
    """Names of the requirements ``dist`` needs without extras, on this platform."""
    from packaging.requirements import Requirement

    names = []
    for text in dist.requires or ():
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.append(req.name)
    return names


def _top_level(dist: Any) -> set[str]:
    """The entries ``dist`` puts directly into its site-packages folder."""
    names = set()
    for file in dist.files or ():
        parts = Path(str(file)).parts
        if not parts or parts[0] in ("..", "__pycache__") or str(file).endswith(".pth"):
            continue
        names.add(parts[0])
    return names


@cache
def overlay(server: str) -> Path:
    """A folder of symlinks to the harness's pieces ``server`` needs (made once per process)."""
    from importlib import metadata

    folder = Path(tempfile.mkdtemp(prefix="flask-bench-overlay-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for name in OWN_PACKAGES:
        (folder / name).symlink_to(REPO / name, target_is_directory=True)
    todo = [*SERVER_DISTRIBUTIONS.get(server, ()), *ALWAYS]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed for the harness either; the server will say so
        todo += _requirements(dist)
        site = Path(str(dist.locate_file("")))
        for entry in _top_level(dist):
            link = folder / entry
            if not link.exists() and (site / entry).exists():
                link.symlink_to(site / entry)
    return folder


def launcher(python: Path, server: str, module: str) -> list[str]:
    """The start of a command line that runs ``python -m module`` under ``python`` with the
    harness's pieces for ``server`` found after the app's own packages."""
    return [str(python), "-c", BOOT, str(overlay(server)), module]


def app_variables(app_dir: Path | None, env: Iterable[tuple[str, str]]) -> dict[str, str]:
    """What a user's app gets from the user over the inherited environment: ``--env-file``
    and ``--env``, and PYTHONPATH with the app's folder first and the user's own kept."""
    given = dict(env)
    parts = [str(app_dir)] if app_dir is not None else []
    user_path = given.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    parts += [p for p in user_path.split(os.pathsep) if p]
    if parts:
        given["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    return given


# -- what the server's interpreter has (runs under it: standard library only) --


def _distribution_of(top: str) -> tuple[str | None, str | None]:
    from importlib import metadata

    names = metadata.packages_distributions().get(top) or []
    candidates = [*names, top, top.replace("_", "-")]
    for name in candidates:
        try:
            return metadata.distribution(name).metadata["Name"], metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None, None


def describe_here(app: str, overlay_dir: str | None) -> dict[str, Any]:
    """This interpreter's packages (first on sys.path wins) and the app's distribution."""
    import importlib.util
    import platform
    from importlib import metadata

    packages: dict[str, str] = {}
    from_harness: list[str] = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or name.lower() in packages:
            continue
        packages[name.lower()] = dist.version
        where = str(dist.locate_file(""))
        if overlay_dir and where.startswith(overlay_dir):
            from_harness.append(name.lower())
    top = app.split(":", 1)[0].split(".", 1)[0]
    distribution, version = _distribution_of(top)
    try:
        spec = importlib.util.find_spec(top)
        origin = spec.origin if spec and spec.origin else None
    except (ImportError, ValueError):
        origin = None
    return {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "python": platform.python_version(),
        "packages": dict(sorted(packages.items())),
        "from_harness": sorted(from_harness),
        "app": {"module": top, "file": origin, "distribution": distribution, "version": version},
    }


def _main() -> None:
    app, overlay_dir = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    print(json.dumps(describe_here(app, overlay_dir)))


if __name__ == "__main__":
    _main()
