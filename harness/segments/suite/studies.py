"""The default suite's studies: what caching, async views and servers buy.

Each study is a question with a baseline, a variant and the workload where the technique
matters; ``harness/segments/suite/run.py`` measures them (see its docstring for how) and
this module says which studies there are, which run, and which share a server.

An A/A control (uncached against sync: the same app under two names) measures the
suite's own noise floor; its interval should contain 1.0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from harness.cells import Cell
from harness.config import RunConfig

INSTANCES_MIN_CPUS = 4


@dataclass(frozen=True)
class Study:
    key: str
    technique: str
    question: str
    scenario: str
    workload: str  # what the scenario requests, in words
    baseline: tuple[str, str]  # (target, server)
    variant: tuple[str, str]
    control: bool = False
    thorough_only: bool = False
    instances: int = 1  # the variant's instances behind nginx
    slo: str = "p99:50ms,errors:0.1%"  # one SLO for both sides; upstream waits 60 ms in series
    # each side's database ("sqlite" / "postgres"; "": the run's --database) and connection
    # pool per worker (None: the run's --db-pool)
    databases: tuple[str, str] = ("", "")
    pools: tuple[int | None, int | None] = (None, None)

    @property
    def workers(self) -> int | None:
        """Worker processes a side (None: the run's ``--workers``). CPU-bound studies run
        one: gunicorn hands a segment's 8 new connections to whichever worker wakes first,
        so most segments ran on one of two workers and some on both, and those ran 20%
        slower (three processes on two cores, the pair's other side among them): an A/A
        pair's log ratio spread 12% with two workers, 1.3-1.6% with one
        (``docs/architecture.md``). Upstream fan-out waits, it needs the threads."""
        return None if self.scenario == "upstream" else CPU_WORKERS

    def warm_requests(self, workers: int) -> tuple[int, int]:
        """Requests each side serves before its first pair: the ``cached`` target's cache
        holds a row per world id in each of its ``workers``, and ``/queries?queries=20``
        asks 20 random ids of 10,000: a worker fills its cache over about 4,600 requests
        (coupon collector, 10,000 x ln 10,000 / 20)."""
        fill = CACHE_FILL_REQUESTS * workers if self.scenario == "queries" else 0
        base, var = (fill if side[0] == "cached" else 0 for side in (self.baseline, self.variant))
        return base, var

    @property
    def users(self) -> int:
        """Closed-model users a side. Both sides of a pair share the server CPU: at 64 a
        side, the context switches of 128 connections became part of every request's CPU
        and squeezed the ratios (caching read 1.26x, against 1.68x at 8). Upstream fan-out
        needs more connections than the server has threads to be at saturation."""
        return IO_USERS if self.scenario == "upstream" else CPU_USERS

    def label(self, n: int) -> str:
        """Side ``n`` (0 baseline, 1 variant) in words, with its database and pool when the
        study sets them."""
        target, server = (self.baseline, self.variant)[n]
        db, pool = self.databases[n], self.pools[n]
        extra = [db] if db and self.databases[0] != self.databases[1] else []
        extra += [f"pool {pool}"] if pool else []
        return f"{target} on {server}" + (f" ({', '.join(extra)})" if extra else "")


GTHREAD = "gunicorn-gthread"
UPSTREAM_SLO = "p99:250ms,errors:0.1%"
UPSTREAM = "/upstream?calls=3&delay_ms=20"
IO_USERS = 64  # upstream studies: more connections than 2 workers x 8 threads
CPU_USERS = 8
CPU_WORKERS = 1
CACHE_FILL_REQUESTS = 4_600  # a worker's
POOL_SMALL = 2  # connections per worker, under the default 8 threads a worker
STUDIES: tuple[Study, ...] = (
    Study(
        "aa-control",
        "A/A control",
        "how far apart are two copies of the same app?",
        "queries",
        "/queries?queries=20",
        ("uncached", GTHREAD),
        ("sync", GTHREAD),
        control=True,
    ),
    Study(
        "caching-queries",
        "caching",
        "does caching help?",
        "queries",
        "/queries?queries=20",
        ("uncached", GTHREAD),
        ("cached", GTHREAD),
    ),
    Study(
        "async-upstream",
        "async views",
        "do async views help on upstream fan-out?",
        "upstream",
        "/upstream?calls=3&delay_ms=20",
        ("sync", GTHREAD),
        ("async", GTHREAD),
        slo=UPSTREAM_SLO,
    ),
    Study(
        "server-dev",
        "gunicorn over the dev server",
        "is gunicorn worth it over Werkzeug?",
        "db",
        "/db",
        ("sync", "werkzeug"),
        ("sync", GTHREAD),
        thorough_only=True,
    ),
    Study(
        "caching-fortunes",
        "caching",
        "does caching help a rendered page?",
        "fortunes",
        "/fortunes",
        ("uncached", GTHREAD),
        ("cached", GTHREAD),
        thorough_only=True,
    ),
    Study(
        "gevent-upstream",
        "gevent workers",
        "gevent or threads for upstream I/O?",
        "upstream",
        "/upstream?calls=3&delay_ms=20",
        ("sync", GTHREAD),
        ("sync", "gunicorn-gevent"),
        thorough_only=True,
        slo=UPSTREAM_SLO,
    ),
    Study(
        "sync-workers",
        "gthread over sync workers",
        "threads or plain sync workers?",
        "upstream",
        "/upstream?calls=3&delay_ms=20",
        ("sync", "gunicorn-sync"),
        ("sync", GTHREAD),
        thorough_only=True,
        slo=UPSTREAM_SLO,
    ),
    Study(
        "instances",
        "2 instances behind nginx",
        "do more instances help?",
        "db",
        "/db",
        ("sync", GTHREAD),
        ("sync", GTHREAD),
        thorough_only=True,
        instances=2,
    ),
    # production parts: the database server and the WSGI server
    Study(
        "postgres-db",
        "PostgreSQL over SQLite",
        "what does a database server cost on one query?",
        "db",
        "/db",
        ("sync", GTHREAD),
        ("sync", GTHREAD),
        thorough_only=True,
        databases=("sqlite", "postgres"),
    ),
    Study(
        "postgres-queries",
        "PostgreSQL over SQLite",
        "what does a database server cost on 20 queries a request?",
        "queries",
        "/queries?queries=20",
        ("sync", GTHREAD),
        ("sync", GTHREAD),
        thorough_only=True,
        databases=("sqlite", "postgres"),
    ),
    Study(
        "db-pool",
        "a pool as large as the threads",
        f"does a pool of {POOL_SMALL} connections hold 8 threads back?",
        "queries",
        "/queries?queries=20",
        ("sync", GTHREAD),
        ("sync", GTHREAD),
        thorough_only=True,
        databases=("postgres", "postgres"),
        pools=(POOL_SMALL, 8),
    ),
    Study(
        "server-granian-json",
        "granian over gunicorn gthread",
        "which server? granian",
        "json",
        "/json",
        ("sync", GTHREAD),
        ("sync", "granian"),
        thorough_only=True,
    ),
    Study(
        "server-uwsgi-json",
        "uWSGI over gunicorn gthread",
        "which server? uWSGI",
        "json",
        "/json",
        ("sync", GTHREAD),
        ("sync", "uwsgi"),
        thorough_only=True,
    ),
    Study(
        "server-granian-upstream",
        "granian over gunicorn gthread",
        "which server for upstream fan-out? granian",
        "upstream",
        UPSTREAM,
        ("sync", GTHREAD),
        ("sync", "granian"),
        thorough_only=True,
        slo=UPSTREAM_SLO,
    ),
    Study(
        "server-uwsgi-upstream",
        "uWSGI over gunicorn gthread",
        "which server for upstream fan-out? uWSGI",
        "upstream",
        UPSTREAM,
        ("sync", GTHREAD),
        ("sync", "uwsgi"),
        thorough_only=True,
        slo=UPSTREAM_SLO,
    ),
)


@dataclass(frozen=True)
class SuitePlan:
    """How long segments are, how tight the intervals should get, how long it may take.

    ``target`` and ``control_target`` are 95% half-widths in log space (0.03: the ratio
    known to about ±3%): pairs go to the study whose interval is widest against its
    target until every one meets it or ``max_time`` (seconds for the whole command,
    start-up, headline and report included) would be overrun.
    """

    thorough: bool = False
    segment_s: float = 2.0  # measured seconds of one segment (whole recorder seconds)
    warmup_s: float = 0.0  # the partial second before the first whole one is warm-up enough
    min_pairs: int = 4
    max_pairs: int = 40
    target: float = 0.05
    control_target: float = 0.025
    max_time: float = 150.0
    common_max_s: float = 2.0  # the common-rate step's longest measured time
    seed: int = 0
    headline: bool = True  # the browse journey and its hotspots (headline.py)

    @classmethod
    def of(cls, thorough: bool, max_time: float | None = None, seed: int = 0) -> SuitePlan:
        if thorough:
            plan = cls(True, 2.0, 0.0, 5, 80, 0.025, 0.015, 900.0, 8.0, seed)
        else:
            plan = cls(seed=seed)
        if max_time is not None:
            plan = replace(plan, max_time=max_time)
        return plan

    def target_of(self, study: Study) -> float:
        return self.control_target if study.control else self.target


def chosen_studies(
    plan: SuitePlan, cpus: int | None = None, postgres: bool | None = None
) -> tuple[list[Study], list[str]]:
    """The studies to run and, for each left out, why (``postgres``: whether a PostgreSQL
    server can be had; None: whether the Debian package is installed)."""
    cpus = cpus if cpus is not None else (os.cpu_count() or 1)
    run, skipped = [], []
    for study in STUDIES:
        if study.thorough_only and not plan.thorough:
            continue
        if "postgres" in study.databases:
            if postgres is None:
                from harness.stack.postgres import installed

                postgres = installed()
            if not postgres:
                skipped.append(
                    f"{study.key}: skipped, PostgreSQL is not installed "
                    "(bash scripts/setup.sh --test, or apt-get install postgresql)"
                )
                continue
        if study.instances > 1 and cpus < INSTANCES_MIN_CPUS:
            skipped.append(
                f"{study.key}: skipped, instances behind nginx need >= "
                f"{INSTANCES_MIN_CPUS} CPUs to mean anything (this machine has "
                f"{cpus}: the instances would share one server core)"
            )
            continue
        run.append(study)
    return run, skipped


SideKey = tuple[str, str, int, str, int | None]  # target, server, instances, database, pool


def side_keys(study: Study) -> tuple[SideKey, SideKey]:
    """(baseline, variant) as (target, server, instances, database, pool)."""
    (db_a, db_b), (pool_a, pool_b) = study.databases, study.pools
    return (*study.baseline, 1, db_a, pool_a), (*study.variant, study.instances, db_b, pool_b)


def cell_key(cell: Cell) -> SideKey:
    return (cell.target, cell.server, cell.instances, cell.database, cell.db_pool)


def group_studies(studies: list[Study]) -> list[list[Study]]:
    """Studies on one workload and SLO that share a side run on one set of servers: the
    shared side (the A/A control's and caching's ``uncached`` baseline) starts once."""
    groups: list[list[Study]] = []
    for study in studies:
        for group in groups:
            first = group[0]
            keys = {k for g in group for k in side_keys(g)}
            if (first.scenario, first.slo) == (study.scenario, study.slo) and keys & set(
                side_keys(study)
            ):
                group.append(study)
                break
        else:
            groups.append([study])
    return groups


def group_cells(cfg: RunConfig, group: list[Study]) -> list[Cell]:
    """One cell (one server) per distinct side of the group."""
    keys: list[SideKey] = []
    for study in group:
        keys += [k for k in side_keys(study) if k not in keys]
    return [
        Cell(
            target,
            server,
            group[0].scenario,
            group_workers(cfg, group),
            cfg.servers.threads,
            instances,
            suffix=f"-{group[0].key}-s{n}",
            profiled=cfg.profiling.enabled,
            scenario_arg=group[0].scenario,
            database=database,
            db_pool=pool,
        )
        for n, (target, server, instances, database, pool) in enumerate(keys)
    ]


def group_workers(cfg: RunConfig, group: list[Study]) -> int:
    """Worker processes a side of the group's servers runs."""
    return group[0].workers or cfg.servers.workers


def study_cells(cfg: RunConfig, group: list[Study]) -> dict[str, tuple[Cell, Cell]]:
    """Each study of the group: its (baseline, variant) cells."""
    cells = group_cells(cfg, group)
    by_key = {cell_key(c): c for c in cells}
    out = {}
    for study in group:
        base, var = side_keys(study)
        out[study.key] = (by_key[base], by_key[var])
    return out
