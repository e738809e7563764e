"""Variant ``cached``: the sync views behind Flask-Caching, plus ETag conditional GET.

World rows, fortunes, items and upstream answers are cached (in-process SimpleCache, or
Redis when ``CACHE_REDIS_URL`` is set); writes invalidate what they change. See
targets/common/caching.py for the rules and the multi-worker caveat of SimpleCache.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from targets.common.bench_views import bp
from targets.common.factory import build_app


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return build_app("cached", config, bench_blueprint=bp, cached=True)
