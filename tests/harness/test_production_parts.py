"""PostgreSQL, granian and uWSGI as configuration: options, command lines, studies."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli.configure import config_from_options
from harness.config import RunConfig
from harness.segments.suite.studies import (
    STUDIES,
    SuitePlan,
    chosen_studies,
    group_cells,
    group_studies,
)
from harness.stack.databases import target_env
from harness.stack.postgres import database_name
from harness.stack.server_commands import ServerSpec, server_argv
from runfolder.across_cells import database_bound
from runfolder.errors import ConfigError


def test_database_url_implies_postgres_and_hides_its_password() -> None:
    cfg = config_from_options(
        {"database": "sqlite", "database_url": "postgresql://me:secret@127.0.0.1:5432/b"}
    )
    assert cfg.database.database == "postgres"
    flat = cfg.to_json()
    assert flat["database"] == "postgres" and "secret" not in str(flat["database_url"])


@pytest.mark.parametrize(
    ("flat", "message"),
    [
        ({"db_pool": 0}, "--db-pool must be > 0"),
        ({"database": "mysql"}, "--database: unknown value 'mysql'"),
        ({"database_url": "postgresql://x@127.0.0.1/db"}, "use it with --database postgres"),
        (
            {"database": "postgres", "app": "myapp:app", "targets": ()},
            "with --app or --host your app keeps its own",
        ),
    ],
)
def test_bad_database_options_say_what_to_do(flat: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RunConfig.build(**flat)


def test_target_env_carries_the_pool_only_when_set(tmp_path: Path) -> None:
    env = target_env("sqlite:///x.db", tmp_path / "c", None)
    assert "FLASK_DB_POOL" not in env and env["FLASK_DATABASE_URL"] == "sqlite:///x.db"
    assert target_env("sqlite:///x.db", tmp_path / "c", 3)["FLASK_DB_POOL"] == "3"
    assert (tmp_path / "c").is_dir()  # the cached target's change stamps go there


def test_database_names_are_safe_identifiers() -> None:
    long = "Uncached-gunicorn-gthread-upstream-server-granian-upstream-s4"
    name = database_name(long + "-r0")
    assert name.startswith("c_uncached_gunicorn") and len(name) <= 63
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")
    assert database_name(long + "-r1") != name  # cut to length, still one per cell
    assert database_name("sync-granian-db-r0") == "c_sync_granian_db_r0"


def test_granian_serves_a_factory_through_its_wsgi_interface() -> None:
    argv = server_argv(ServerSpec("sync", "granian", workers=3, threads=5), 8123)
    assert argv[argv.index("--interface") + 1] == "wsgi"
    assert argv[argv.index("--workers") + 1] == "3"
    assert argv[argv.index("--blocking-threads") + 1] == "5"
    assert argv[-2:] == ["--factory", "targets.sync_app:create_app"]


def test_uwsgi_serves_http_itself_and_stops_on_sigterm() -> None:
    argv = server_argv(ServerSpec("sync", "uwsgi", workers=2, threads=4), 8124, host="::1")
    assert argv[argv.index("--http-socket") + 1] == "[::1]:8124"
    assert argv[argv.index("--module") + 1] == "targets.sync_app:create_app()"
    assert {"--die-on-term", "--lazy-apps", "--enable-threads"} <= set(argv)
    assert argv[argv.index("--add-header") + 1] == "Connection: close"


def test_postgres_studies_are_skipped_with_the_reason_when_it_is_missing() -> None:
    chosen, skipped = chosen_studies(SuitePlan.of(True), cpus=2, postgres=False)
    keys = {s.key for s in chosen}
    assert not keys & {"postgres-db", "postgres-queries", "db-pool"}
    assert any("db-pool" in note and "setup.sh --test" in note for note in skipped)
    with_pg = {s.key for s in chosen_studies(SuitePlan.of(True), cpus=2, postgres=True)[0]}
    assert {"postgres-db", "postgres-queries", "db-pool", "server-granian-json"} <= with_pg
    assert not {s.key for s in chosen_studies(SuitePlan.of(False), cpus=2, postgres=True)[0]} & {
        "postgres-db",
        "server-uwsgi-json",
    }  # the quick suite keeps its three studies


def test_study_sides_start_on_their_own_database_and_pool() -> None:
    chosen, _ = chosen_studies(SuitePlan.of(True), cpus=2, postgres=True)
    groups = group_studies(chosen)
    cfg = RunConfig.build()
    pool_group = next(g for g in groups if any(s.key == "db-pool" for s in g))
    cells = group_cells(cfg, pool_group)
    pooled = [(c.database, c.db_pool) for c in cells]
    assert ("postgres", 2) in pooled and ("postgres", 8) in pooled
    pg_group = next(g for g in groups if any(s.key == "postgres-db" for s in g))
    assert {c.database for c in group_cells(cfg, pg_group)} == {"sqlite", "postgres"}
    json_group = next(g for g in groups if g[0].scenario == "json")
    assert {c.server for c in group_cells(cfg, json_group)} == {
        "gunicorn-gthread",
        "granian",
        "uwsgi",
    }  # one gthread baseline, measured once for both servers
    study = next(s for s in STUDIES if s.key == "db-pool")
    assert study.label(0) == "sync on gunicorn-gthread (pool 2)"


def test_the_database_is_the_limit_when_it_outworks_the_app() -> None:
    assert database_bound({"database_cpu_pct": 120.0, "server_cpu_pct": 80.0})
    assert not database_bound({"database_cpu_pct": 20.0, "server_cpu_pct": 180.0})
    assert not database_bound({"database_cpu_pct": None, "server_cpu_pct": 80.0})
