"""Apps for the micro-benchmarks: one per variant, on a private seeded database."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from flask import Flask

from targets.catalog import TARGETS
from targets.common.state import EXTENSION_KEY
from targets.upstream import serve_in_thread


@pytest.fixture(scope="session")
def upstream_url() -> Iterator[str]:
    with serve_in_thread() as url:
        yield url


@pytest.fixture(scope="session", params=tuple(TARGETS))
def target_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream_url: str
) -> Iterator[Flask]:
    variant = str(request.param)
    db = tmp_path_factory.mktemp(variant) / "bench.sqlite3"
    module = importlib.import_module(f"targets.{variant}_app")
    app = module.create_app(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "UPSTREAM_URL": upstream_url,
            "SECRET_KEY": "micro-benchmarks",
            "RANDOM_SEED": 1,
        }
    )
    yield app
    app.extensions[EXTENSION_KEY].close()
