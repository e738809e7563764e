"""Variant ``uncached``: the plain baseline with nothing added, the control for ``cached``.

``gunicorn 'targets.uncached_app:create_app()'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from targets.common.bench_views import bp
from targets.common.factory import build_app


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return build_app("uncached", config, bench_blueprint=bp)
