"""What a request needs besides Flask: the data layer, the upstream client, randomness."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from targets.common.db import Database
from targets.common.upstream_client import UpstreamClient

EXTENSION_KEY = "flask_bench"


@dataclass
class BenchState:
    variant: str
    db: Database
    upstream: UpstreamClient
    randint: Callable[[int, int], int]
    cache: Any = None  # flask_caching.Cache in the cached variant

    def close(self) -> None:
        """Close pooled connections (database, upstream); the app can still reopen them."""
        self.upstream.close()
        self.db.engine.dispose()


def bench_state() -> BenchState:
    return current_app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
