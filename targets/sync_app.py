"""Variant ``sync``: plain sync views, the control for ``async``.

``gunicorn 'targets.sync_app:create_app()'`` or ``flask --app 'targets.sync_app:create_app()' run``.
The same app as ``uncached`` under another name: each technique gets its own control,
and sync against uncached is an A/A comparison that shows the measurement's noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from targets.common.bench_views import bp
from targets.common.factory import build_app


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return build_app("sync", config, bench_blueprint=bp)
