"""One request through the whole Flask stack per round, for every variant and endpoint.

The figures compare variants on the same machine and run; they leave out the server,
sockets and the load generator, which the harness measures.
"""

from __future__ import annotations

import pytest

ENDPOINTS = [
    "/json",
    "/plaintext",
    "/db",
    "/queries?queries=10",
    "/fortunes",
    "/cpu?n=10000",
    "/upstream?calls=1&delay_ms=0",
    "/api/items?per_page=20",
    "/api/items/7",
    "/items/7",
    "/login",
]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_get(benchmark, target_app, path):
    client = target_app.test_client()
    benchmark.group = path
    benchmark.extra_info["path"] = path
    response = benchmark(client.get, path)
    assert response.status_code == 200


def test_updates(benchmark, target_app):
    client = target_app.test_client()
    benchmark.group = "/updates?queries=5"
    response = benchmark(client.get, "/updates?queries=5")
    assert response.status_code == 200


def test_api_write_cycle(benchmark, target_app):
    """POST, PUT, DELETE of one item: the write path with cache invalidation."""
    client = target_app.test_client()
    benchmark.group = "api write cycle"

    def cycle() -> int:
        item_id = client.post("/api/items", json={"name": "b", "price_cents": 1}).get_json()["id"]
        client.put(f"/api/items/{item_id}", json={"name": "c", "price_cents": 2})
        return client.delete(f"/api/items/{item_id}").status_code

    assert benchmark(cycle) == 204
