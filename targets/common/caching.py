"""The cached variant's technique: Flask-Caching in front of the data layer and upstream.

Reads go to the cache first; a miss runs exactly the uncached code and stores the result.
Writes change the database first, then invalidate what they changed, so the next read
fetches fresh rows. Item list pages are keyed by a generation token that every item
write replaces, so no list page survives a write.

Backends: Redis when ``CACHE_REDIS_URL`` is set (shared by every worker and instance, so
a delete reaches them all), else the in-process ``SimpleCache``. An in-process cache
alone would let worker B serve a row that worker A just changed, so with SimpleCache
every entry also carries a *change stamp*: a 64-bit token per key slot in a small file
mapped into memory by every process on the same database (``ChangeStamps``). A write
replaces the stamps of what it changed; a read whose stored stamp differs is a miss.
Checking a stamp is a memory read, no system call. The stamp is read before the
database, so a write racing with a read can cost an extra miss, never a stale answer.
"""

from __future__ import annotations

import mmap
import os
import secrets
import struct
import uuid
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cachelib import BaseCache
from flask import Flask
from flask_caching import Cache
from sqlalchemy.engine import make_url

from targets.common.db import Database
from targets.common.upstream_client import UpstreamClient

ITEMS_GENERATION_KEY = "items:generation"
ITEMS_LIST_STAMP = "items:list"


def create_cache(app: Flask) -> Cache:
    """SimpleCache in-process, or RedisCache when ``CACHE_REDIS_URL`` is set."""
    redis_url = app.config.get("CACHE_REDIS_URL")
    settings: dict[str, Any] = {
        "CACHE_DEFAULT_TIMEOUT": app.config.get("CACHE_DEFAULT_TIMEOUT", 300),
        "CACHE_KEY_PREFIX": app.config.get("CACHE_KEY_PREFIX", "flask-bench:"),
    }
    if redis_url:
        settings |= {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": str(redis_url)}
    else:
        # 10,000 World rows plus items and pages must fit without pruning
        settings |= {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 50_000}
    return Cache(app, config=settings)


def stamps_path(app: Flask) -> Path:
    """``CACHE_STAMPS_PATH`` (the harness: one per cell), beside a SQLite file (one per
    database), else in the instance folder."""
    if app.config.get("CACHE_STAMPS_PATH"):
        return Path(str(app.config["CACHE_STAMPS_PATH"]))
    url = make_url(str(app.config["DATABASE_URL"]))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(f"{url.database}.cache-stamps")
    digest = f"{zlib.crc32(str(url).encode()):08x}"
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return Path(app.instance_path) / f"cache-stamps-{digest}"


class ChangeStamps:
    """A shared-memory table of change tokens, one 8-byte slot per hash of a cache key.

    Two keys sharing a slot only cost each other extra misses.
    """

    SLOTS = 1 << 16
    SIZE = SLOTS * 8

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < self.SIZE:
                os.ftruncate(fd, self.SIZE)  # same size from every process: never shrinks
            self._map = mmap.mmap(fd, self.SIZE)
        finally:
            os.close(fd)

    def _offset(self, key: str) -> int:
        return (zlib.crc32(key.encode()) & (self.SLOTS - 1)) * 8

    def read(self, key: str) -> int:
        return int(struct.unpack_from("<Q", self._map, self._offset(key))[0])

    def bump(self, key: str) -> None:
        struct.pack_into("<Q", self._map, self._offset(key), secrets.randbits(64) | 1)


class CoherentCache:
    """A Flask-Caching backend plus, when in-process, change stamps shared between workers.

    It holds the backend (cachelib) itself, not the ``Cache`` wrapper: no app context is
    needed and no reference to the app is kept.
    """

    def __init__(self, backend: BaseCache, stamps: ChangeStamps | None) -> None:
        self.backend = backend
        self.stamps = stamps

    def clear(self) -> None:
        self.backend.clear()

    def token(self, stamp_key: str) -> int:
        """Read before the database: the token the fresh value will be stored with."""
        return self.stamps.read(stamp_key) if self.stamps else 0

    def _valid(self, entry: Any, stamp_key: str) -> Any:
        if entry is None:
            return None
        token, value = entry
        if self.stamps and token != self.stamps.read(stamp_key):
            return None
        return value

    def get(self, key: str, stamp_key: str | None = None) -> Any:
        return self._valid(self.backend.get(key), stamp_key or key)

    def get_many(self, keys: Sequence[str]) -> list[Any]:
        return [self._valid(e, k) for k, e in zip(keys, self.backend.get_many(*keys), strict=True)]

    def set(self, key: str, value: Any, token: int) -> None:
        self.backend.set(key, (token, value))

    def set_many(self, entries: dict[str, tuple[int, Any]]) -> None:
        self.backend.set_many(entries)

    def invalidate(self, *keys: str) -> None:
        if self.stamps:
            for key in keys:
                self.stamps.bump(key)
        self.backend.delete_many(*keys)


class CachedDatabase(Database):
    def __init__(self, engine: Any, cache: CoherentCache) -> None:
        super().__init__(engine)
        self.cache = cache

    def world(self, world_id: int) -> dict[str, int] | None:
        key = f"world:{world_id}"
        row = self.cache.get(key)
        if row is None:
            token = self.cache.token(key)
            row = super().world(world_id)
            if row is not None:
                self.cache.set(key, row, token)
        return row

    def worlds(self, ids: Sequence[int]) -> list[dict[str, int]]:
        """One round trip to the cache for all ids; misses read as the uncached code does."""
        keys = [f"world:{i}" for i in ids]
        found = dict(zip(ids, self.cache.get_many(keys), strict=True)) if keys else {}
        missing = list(dict.fromkeys(i for i, row in found.items() if row is None))
        if missing:
            tokens = {i: self.cache.token(f"world:{i}") for i in missing}
            fresh = {row["id"]: row for row in super().worlds(missing)}
            self.cache.set_many({f"world:{i}": (tokens[i], row) for i, row in fresh.items()})
            found.update(fresh)
        return [found[i] for i in ids if found.get(i) is not None]

    def update_worlds(self, changes: Sequence[tuple[int, int]]) -> None:
        super().update_worlds(changes)
        self.cache.invalidate(*{f"world:{wid}" for wid, _ in changes})

    def fortunes(self) -> list[tuple[int, str]]:
        rows = self.cache.get("fortunes")
        if rows is None:
            token = self.cache.token("fortunes")
            rows = super().fortunes()
            self.cache.set("fortunes", rows, token)
        return list(rows)

    def _items_generation(self) -> str:
        generation = self.cache.backend.get(ITEMS_GENERATION_KEY)
        if generation is None:
            generation = uuid.uuid4().hex
            self.cache.backend.set(ITEMS_GENERATION_KEY, generation, timeout=0)
        return str(generation)

    def _items_changed(self, item_id: int | None = None) -> None:
        self.cache.backend.set(ITEMS_GENERATION_KEY, uuid.uuid4().hex, timeout=0)
        keys = [ITEMS_LIST_STAMP] + ([f"item:{item_id}"] if item_id is not None else [])
        self.cache.invalidate(*keys)

    def list_items(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        key = f"items:{self._items_generation()}:{offset}:{limit}"
        page = self.cache.get(key, ITEMS_LIST_STAMP)
        if page is None:
            token = self.cache.token(ITEMS_LIST_STAMP)
            page = super().list_items(offset, limit)
            self.cache.set(key, page, token)
        rows, total = page
        return list(rows), total

    def get_item(self, item_id: int) -> dict[str, Any] | None:
        key = f"item:{item_id}"
        row = self.cache.get(key)
        if row is None:
            token = self.cache.token(key)
            row = super().get_item(item_id)
            if row is not None:
                self.cache.set(key, row, token)
        return row

    def create_item(self, data: dict[str, Any]) -> dict[str, Any]:
        created = super().create_item(data)
        self._items_changed()
        return created

    def replace_item(self, item_id: int, data: dict[str, Any]) -> dict[str, Any] | None:
        replaced = super().replace_item(item_id, data)
        self._items_changed(item_id)
        return replaced

    def delete_item(self, item_id: int) -> bool:
        deleted = super().delete_item(item_id)
        self._items_changed(item_id)
        return deleted


class CachedUpstream(UpstreamClient):
    """The upstream answer depends only on (calls, delay_ms): cache it."""

    def __init__(self, base_url: str, cache: CoherentCache) -> None:
        super().__init__(base_url)
        self.cache = cache

    def delays(self, calls: int, delay_ms: int) -> list[dict[str, Any]]:
        key = f"upstream:{calls}:{delay_ms}"
        results = self.cache.get(key)
        if results is None:
            token = self.cache.token(key)
            results = super().delays(calls, delay_ms)
            self.cache.set(key, results, token)
        return list(results)
