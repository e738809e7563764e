"""Fixtures for the target tests: a fresh SQLite file per app, an in-thread upstream."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from targets.catalog import TARGETS
from targets.common.db import create_db_engine, prepare_database
from targets.common.state import EXTENSION_KEY
from targets.upstream import serve_in_thread

VARIANTS = tuple(TARGETS)


@pytest.fixture(scope="session")
def upstream_url() -> Iterator[str]:
    """The real upstream service, on a thread of this process (no child process)."""
    with serve_in_thread() as url:
        yield url


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded database file; tests get copies (seeding costs ~0.5 s each time)."""
    path = tmp_path_factory.mktemp("seed") / "seeded.sqlite3"
    engine = create_db_engine(f"sqlite:///{path}")
    prepare_database(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def make_app(tmp_path: Path, upstream_url: str, seeded_db: Path) -> Iterator[Callable[..., Flask]]:
    """Build a variant's app on its own copy of the seeded database; closed afterwards.

    ``fresh=True`` starts from an empty file, so the app seeds it itself.
    """
    apps: list[Flask] = []

    def build(
        variant: str, db_name: str | None = None, *, fresh: bool = False, **config: Any
    ) -> Flask:
        module = importlib.import_module(f"targets.{variant}_app")
        db_path = tmp_path / f"{db_name or variant}.sqlite3"
        if not fresh and not db_path.exists():
            shutil.copyfile(seeded_db, db_path)
        settings = {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "UPSTREAM_URL": upstream_url,
            "SECRET_KEY": "test-secret",
            **config,
        }
        app = module.create_app(settings)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions[EXTENSION_KEY].close()


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)
