"""A user's Flask app with the harness's instruments added, served without touching its code.

The harness serves ``profiles.timed_app:create_app()`` with ``BENCH_TIMED_APP`` set to
the user's ``--app`` string (``module:app`` or ``module:create_app()``, Flask's own
syntax, resolved by ``flask.cli.locate_app``), from the user's ``--app-dir``, and adds:

- the sampled profiler (``profiles.middleware``) when ``FLASK_PROFILE_DIR`` is set: the
  same middleware, with the same sampling and overhead budget, as the reference targets,
  so ``profile`` and ``run --profile`` find hotspots in the app's own functions. Its
  settings come from the environment (``FLASK_PROFILE_RATE``,
  ``FLASK_PROFILE_MIN_PER_ENDPOINT``), never from the app's config, which the user's
  app may not read from the environment at all;
- ``Server-Timing`` (``profiles.timing``) unless ``FLASK_SERVER_TIMING`` is ``false``.

The profiler wraps ``full_dispatch_request`` and ``ensure_sync`` of the app object, so
``async def`` views are profiled inside their event loop as on the ``async`` target; it
runs them through the app's own ``async_to_sync`` (asgiref, Flask's ``async`` extra).
"""

from __future__ import annotations

import os
from typing import Any

APP_ENV = "BENCH_TIMED_APP"
PROFILE_ENV = "FLASK_PROFILE_"


def _number(name: str, kind: type) -> Any:
    value = os.environ.get(PROFILE_ENV + name)
    return kind(value) if value not in (None, "") else None


def create_app() -> Any:
    from flask.cli import locate_app

    from profiles.timing import install_timing, timing_enabled

    spec = os.environ.get(APP_ENV, "")
    if not spec:
        raise RuntimeError(f"{APP_ENV} is not set: it names the app to serve (module:app)")
    module, _, name = spec.partition(":")
    app = locate_app(module, name or None)
    profile_dir = os.environ.get(PROFILE_ENV + "DIR")
    if profile_dir:
        from profiles.middleware import install_profiler

        install_profiler(
            app,
            profile_dir,
            rate=_number("RATE", float),
            min_per_endpoint=_number("MIN_PER_ENDPOINT", int),
        )
    return install_timing(app) if timing_enabled() else app
