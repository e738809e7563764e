"""A user's Flask app with ``Server-Timing`` added, served without touching its code.

The harness serves ``profiles.timed_app:create_app()`` with ``BENCH_TIMED_APP`` set to
the user's ``--app`` string (``module:app`` or ``module:create_app()``, Flask's own
syntax, resolved by ``flask.cli.locate_app``), from the user's ``--app-dir``.
"""

from __future__ import annotations

import os
from typing import Any

APP_ENV = "BENCH_TIMED_APP"


def create_app() -> Any:
    from flask.cli import locate_app

    from profiles.timing import install_timing

    spec = os.environ.get(APP_ENV, "")
    if not spec:
        raise RuntimeError(f"{APP_ENV} is not set: it names the app to serve (module:app)")
    module, _, name = spec.partition(":")
    app = locate_app(module, name or None)
    return install_timing(app)
