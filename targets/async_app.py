"""Variant ``async``: the workload endpoints are ``async def`` views.

``/upstream`` awaits its K calls concurrently (about one delay instead of K); the other
endpoints show what the async machinery costs where there is nothing to overlap.
API and HTML pages stay on the shared sync views. See targets/common/bench_async_views.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from targets.common.bench_async_views import bp
from targets.common.factory import build_app


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return build_app("async", config, bench_blueprint=bp)
