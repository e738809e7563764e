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
import sys
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# the project's packages the server or route discovery imports under the app's interpreter
# (loadtests: its forms helper, which imports no locust)
OWN_PACKAGES = ("profiles", "harness", "runfolder", "loadtests")
# what each server kind imports from the harness's environment (with their requirements)
SERVER_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "gunicorn-sync": ("gunicorn",),
    "gunicorn-gthread": ("gunicorn",),
    "gunicorn-gevent": ("gunicorn", "gevent"),
    "waitress": ("waitress",),
    "werkzeug": (),
}
ALWAYS = ("pyinstrument",)  # the profiling middleware

# ``python -c BOOT OVERLAY MODULE ARGS...``: the overlay goes last on sys.path, then MODULE
# runs as ``python -m MODULE ARGS...`` would (sys.path[0] stays the working folder)
BOOT = (
    "import runpy, sys; sys.path.append(sys.argv[1]); m = sys.argv[2]; "
    "sys.argv = [m, *sys.argv[3:]]; runpy.run_module(m, run_name='__main__', alter_sys=True)"
)


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
