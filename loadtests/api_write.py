"""The ``api_write`` scenario: write-heavy use of the REST resource ``/api/items``.

Each user creates items (POST, 201), replaces them (PUT, 200), deletes them (DELETE,
204) and reads them back (GET, 200); about four writes for every read. A user only
touches the items it created, so users never race each other into 404s. Closed model
only (each user keeps the ids it created).

Run alone: ``locust -f loadtests/api_write.py --headless -u 5 -r 5 -t 10s --host URL``.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

# `locust -f loadtests/api_write.py` puts loadtests/ (not the repo) on sys.path
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from locust import task  # noqa: E402

from loadtests.users import JSON, ThinkingUser, expect  # noqa: E402

ITEM_ROUTE = "/api/items/<int:item_id>"
KEEP_AT_MOST = 20  # items a user keeps before it deletes one instead of creating one


def item_payload() -> dict[str, Any]:
    n = random.randint(1, 1_000_000)
    return {
        "name": f"api item {n}",
        "description": "written by loadtests/api_write.py",
        "price_cents": random.randint(1, 1_000_000),
    }


class ApiWriteUser(ThinkingUser):
    open_model_ok = False

    def on_start(self) -> None:
        self.mine: list[int] = []

    @task(4)
    def create(self) -> None:
        if len(self.mine) >= KEEP_AT_MOST:
            self.delete()
            return
        with self.client.post(
            "/api/items", name="/api/items", json=item_payload(), catch_response=True
        ) as r:
            if expect(r, 201, JSON):
                try:
                    self.mine.append(int(r.json()["id"]))
                except (ValueError, KeyError, TypeError):
                    r.failure("the created item has no integer id")

    @task(3)
    def replace(self) -> None:
        if not self.mine:
            self.create()
            return
        item_id = random.choice(self.mine)
        with self.client.put(
            f"/api/items/{item_id}", name=ITEM_ROUTE, json=item_payload(), catch_response=True
        ) as r:
            expect(r, 200, JSON)

    @task(2)
    def delete(self) -> None:
        if not self.mine:
            self.create()
            return
        item_id = self.mine.pop(random.randrange(len(self.mine)))
        with self.client.delete(f"/api/items/{item_id}", name=ITEM_ROUTE, catch_response=True) as r:
            expect(r, (200, 204))

    @task(2)
    def read(self) -> None:
        if not self.mine:
            self.create()
            return
        item_id = random.choice(self.mine)
        with self.client.get(f"/api/items/{item_id}", name=ITEM_ROUTE, catch_response=True) as r:
            expect(r, 200, JSON)
