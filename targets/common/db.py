"""The database: tables, engine set-up, deterministic seeding and every query.

Why SQLAlchemy Core, not the ORM and not raw ``sqlite3``: one code path runs on SQLite
(the default, nothing to install) and on PostgreSQL (set ``DATABASE_URL``), every
statement uses bound parameters, and a worker's threads share a connection pool. The
ORM's identity map and unit of work would add per-request work that is not what these
benchmarks are about; raw DB-API would need a dialect switch for placeholders and locks.

Several server processes may start at once on one SQLite file: creating and seeding
runs under a lock (a file lock for SQLite, an advisory lock for PostgreSQL) and is
skipped when the seed is already there. Connections use WAL and a busy timeout, and
writes retry a bounded number of times when the database is locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from werkzeug.security import generate_password_hash

log = logging.getLogger(__name__)

WORLD_ROWS = 10_000
SEED = 20261127
ITEM_ROWS = 100
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
# ids outside the column types' range can never exist: answer "not found" without asking
MAX_ID = 2**31 - 1
BUSY_TIMEOUT_MS = 10_000
WRITE_ATTEMPTS = 6

FORTUNES = (
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. — Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "フレームワークのベンチマーク",
)

metadata = MetaData()

world = Table(
    "world",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("randomnumber", Integer, nullable=False),
)
fortune = Table(
    "fortune",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("message", String(2048), nullable=False),
)
item = Table(
    "item",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("description", String(1000), nullable=False),
    Column("price_cents", Integer, nullable=False),
    sqlite_autoincrement=True,  # a deleted id never comes back
)
user_account = Table(
    "user_account",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(80), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
)

_SELECT_WORLD = select(world.c.id, world.c.randomnumber).where(world.c.id == bindparam("wid"))
_UPDATE_WORLD = (
    update(world).where(world.c.id == bindparam("wid")).values(randomnumber=bindparam("num"))
)
_SELECT_FORTUNES = select(fortune.c.id, fortune.c.message)
_ITEM_COLUMNS = (item.c.id, item.c.name, item.c.description, item.c.price_cents)

T = TypeVar("T")


POOL_SIZE = 10
POOL_OVERFLOW = 10


def create_db_engine(url: str, pool: int | None = None) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and a shared pool.

    ``pool``: at most this many connections per process (no overflow), so a study can put
    more threads than connections on a worker; None: 10, growing to 20 under load.
    A PostgreSQL URL without a driver gets psycopg 3 (SQLAlchemy's default is psycopg2).
    """
    parsed = make_url(url)
    sizes = (
        {"pool_size": pool, "max_overflow": 0}
        if pool
        else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    )
    if parsed.get_backend_name() != "sqlite":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # no pre-ping: a round trip per checkout (per request here) that SQLite does not pay
        return create_engine(parsed, **sizes)
    database = parsed.database
    memory = not database or database == ":memory:" or "mode=memory" in str(parsed)
    connect_args: dict[str, Any] = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    if memory:
        engine = create_engine(parsed, connect_args=connect_args, poolclass=StaticPool)
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
        engine = create_engine(parsed, connect_args=connect_args, **sizes)
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, far cheaper
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


@contextlib.contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """Serialize create-and-seed between processes starting at the same time."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        lock_path = Path(f"{database}.lock")
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SEED})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SEED})
                conn.commit()
    else:
        yield


def prepare_database(engine: Engine) -> bool:
    """Create the tables and seed them once. True when this call seeded."""
    with _schema_lock(engine):
        metadata.create_all(engine)
        with engine.begin() as conn:
            seeded = conn.execute(
                select(func.count())
                .select_from(user_account)
                .where(user_account.c.username == DEMO_USERNAME)
            ).scalar_one()
            if seeded:
                return False
            _seed(conn)
    log.info("seeded the database at %s", engine.url.render_as_string(hide_password=True))
    return True


def _seed(conn: Any) -> None:
    """Deterministic content: the same rows on every machine (except the password salt)."""
    rng = random.Random(SEED)
    conn.execute(
        insert(world),
        [{"id": i, "randomnumber": rng.randint(1, WORLD_ROWS)} for i in range(1, WORLD_ROWS + 1)],
    )
    conn.execute(
        insert(fortune), [{"id": i, "message": m} for i, m in enumerate(FORTUNES, start=1)]
    )
    words = ("red", "blue", "small", "large", "steel", "wooden", "smart", "classic", "eco")
    conn.execute(
        insert(item),
        [
            {
                "name": f"Item {i:03d}",
                "description": " ".join(rng.choice(words) for _ in range(6)),
                "price_cents": rng.randint(100, 100_000),
            }
            for i in range(1, ITEM_ROWS + 1)
        ],
    )
    # the user goes last: its presence marks a complete seed (one transaction anyway)
    conn.execute(
        insert(user_account),
        {"username": DEMO_USERNAME, "password_hash": generate_password_hash(DEMO_PASSWORD)},
    )


def _is_transient(exc: DBAPIError) -> bool:
    """Lock contention worth retrying: SQLite busy/locked, PostgreSQL deadlock/serialization."""
    if getattr(exc.orig, "pgcode", None) in {"40P01", "40001"}:
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message


def retry_transient(operation: Callable[[], T], attempts: int = WRITE_ATTEMPTS) -> T:
    """Run ``operation``, retrying with jittered backoff while the database is locked."""
    for attempt in range(attempts):
        try:
            return operation()
        except DBAPIError as exc:
            if attempt == attempts - 1 or not _is_transient(exc):
                raise
            time.sleep(0.005 * 2**attempt * (1 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover


def world_json(row: Sequence[int]) -> dict[str, int]:
    return {"id": row[0], "randomNumber": row[1]}


def item_json(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": row[0], "name": row[1], "description": row[2], "price_cents": row[3]}


class Database:
    """Every query the apps run. The cached variant subclasses it (``CachedDatabase``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- World (TechEmpower) -------------------------------------------------------------
    def world(self, world_id: int) -> dict[str, int] | None:
        with self.engine.connect() as conn:
            row = conn.execute(_SELECT_WORLD, {"wid": world_id}).first()
        return world_json(row) if row else None

    def worlds(self, ids: Sequence[int]) -> list[dict[str, int]]:
        """One SELECT per id, as TechEmpower's multiple-queries test requires."""
        out = []
        with self.engine.connect() as conn:
            for world_id in ids:
                row = conn.execute(_SELECT_WORLD, {"wid": world_id}).first()
                if row:
                    out.append(world_json(row))
        return out

    def update_worlds(self, changes: Sequence[tuple[int, int]]) -> None:
        """Write ``(id, randomNumber)`` pairs in one transaction, ids sorted (no deadlocks)."""
        params = [{"wid": wid, "num": num} for wid, num in sorted(dict(changes).items())]

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(_UPDATE_WORLD, params)

        retry_transient(write)

    def fortunes(self) -> list[tuple[int, str]]:
        with self.engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(_SELECT_FORTUNES)]

    # -- items (the REST resource and the HTML pages) --------------------------------------
    def list_items(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(item)).scalar_one()
            rows = conn.execute(
                select(*_ITEM_COLUMNS).order_by(item.c.id).offset(offset).limit(limit)
            ).all()
        return [item_json(r) for r in rows], int(total)

    def get_item(self, item_id: int) -> dict[str, Any] | None:
        if not 0 < item_id <= MAX_ID:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(*_ITEM_COLUMNS).where(item.c.id == item_id)).first()
        return item_json(row) if row else None

    def create_item(self, data: dict[str, Any]) -> dict[str, Any]:
        def write() -> dict[str, Any]:
            with self.engine.begin() as conn:
                new_id = conn.execute(insert(item).values(**data)).inserted_primary_key[0]
            return {"id": new_id, **data}

        created = retry_transient(write)
        return item_json([created[k] for k in ("id", "name", "description", "price_cents")])

    def replace_item(self, item_id: int, data: dict[str, Any]) -> dict[str, Any] | None:
        if not 0 < item_id <= MAX_ID:
            return None

        def write() -> int:
            with self.engine.begin() as conn:
                return conn.execute(
                    update(item).where(item.c.id == item_id).values(**data)
                ).rowcount

        if not retry_transient(write):
            return None
        return item_json([item_id, data["name"], data["description"], data["price_cents"]])

    def delete_item(self, item_id: int) -> bool:
        if not 0 < item_id <= MAX_ID:
            return False

        def write() -> int:
            with self.engine.begin() as conn:
                return conn.execute(delete(item).where(item.c.id == item_id)).rowcount

        return bool(retry_transient(write))

    # -- users -----------------------------------------------------------------------------
    def user_by_id(self, user_id: int) -> dict[str, Any] | None:
        if not 0 < user_id <= MAX_ID:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(user_account.c.id, user_account.c.username).where(
                    user_account.c.id == user_id
                )
            ).first()
        return {"id": row[0], "username": row[1]} if row else None

    def user_by_name(self, username: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(user_account).where(user_account.c.username == username)
            ).first()
        return {"id": row[0], "username": row[1], "password_hash": row[2]} if row else None
