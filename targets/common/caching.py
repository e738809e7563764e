"""The cached variant's technique: Flask-Caching in front of the data layer and upstream.

Reads go to the cache first; a miss runs exactly the uncached code and stores the result.
Writes change the database first, then delete what they changed, so the next read
fetches fresh rows. Item list pages are keyed by a generation token that every item
write replaces, so no list page survives a write.

The in-process ``SimpleCache`` (default) is per worker process: a write invalidates
only the worker that served it, others may serve the old value until the entry expires
(``CACHE_DEFAULT_TIMEOUT``). Set ``CACHE_REDIS_URL`` whenever several workers or
instances serve the same database; Redis is shared, so invalidation reaches all of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import Flask
from flask_caching import Cache

from targets.common.db import Database
from targets.common.upstream_client import UpstreamClient

ITEMS_GENERATION_KEY = "items:generation"


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


class CachedDatabase(Database):
    def __init__(self, engine: Any, cache: Cache) -> None:
        super().__init__(engine)
        self.cache = cache

    def world(self, world_id: int) -> dict[str, int] | None:
        key = f"world:{world_id}"
        row = self.cache.get(key)
        if row is None:
            row = super().world(world_id)
            if row is not None:
                self.cache.set(key, row)
        return row

    def worlds(self, ids: Sequence[int]) -> list[dict[str, int]]:
        """One round trip to the cache for all ids; misses read as the uncached code does."""
        keys = [f"world:{i}" for i in ids]
        found = dict(zip(ids, self.cache.get_many(*keys), strict=True)) if keys else {}
        missing = list(dict.fromkeys(i for i, row in found.items() if row is None))
        if missing:
            fresh = {row["id"]: row for row in super().worlds(missing)}
            self.cache.set_many({f"world:{i}": row for i, row in fresh.items()})
            found.update(fresh)
        return [found[i] for i in ids if found.get(i) is not None]

    def update_worlds(self, changes: Sequence[tuple[int, int]]) -> None:
        super().update_worlds(changes)
        self.cache.delete_many(*{f"world:{wid}" for wid, _ in changes})

    def fortunes(self) -> list[tuple[int, str]]:
        rows = self.cache.get("fortunes")
        if rows is None:
            rows = super().fortunes()
            self.cache.set("fortunes", rows)
        return list(rows)

    def _items_generation(self) -> str:
        generation = self.cache.get(ITEMS_GENERATION_KEY)
        if generation is None:
            generation = uuid.uuid4().hex
            self.cache.set(ITEMS_GENERATION_KEY, generation, timeout=0)
        return str(generation)

    def _items_changed(self, item_id: int | None = None) -> None:
        self.cache.set(ITEMS_GENERATION_KEY, uuid.uuid4().hex, timeout=0)
        if item_id is not None:
            self.cache.delete(f"item:{item_id}")

    def list_items(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        key = f"items:{self._items_generation()}:{offset}:{limit}"
        page = self.cache.get(key)
        if page is None:
            page = super().list_items(offset, limit)
            self.cache.set(key, page)
        rows, total = page
        return list(rows), total

    def get_item(self, item_id: int) -> dict[str, Any] | None:
        key = f"item:{item_id}"
        row = self.cache.get(key)
        if row is None:
            row = super().get_item(item_id)
            if row is not None:
                self.cache.set(key, row)
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

    def __init__(self, base_url: str, cache: Cache) -> None:
        super().__init__(base_url)
        self.cache = cache

    def delays(self, calls: int, delay_ms: int) -> list[dict[str, Any]]:
        key = f"upstream:{calls}:{delay_ms}"
        results = self.cache.get(key)
        if results is None:
            results = super().delays(calls, delay_ms)
            self.cache.set(key, results)
        return list(results)
