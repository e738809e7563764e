"""One User class per workload endpoint (scenarios json ... items of ``catalog.SCENARIOS``).

Run alone: ``locust -f loadtests/endpoints.py JsonUser --headless -u 10 -r 10 -t 10s
--host http://127.0.0.1:8000``. Every request is named after the Flask URL rule.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any, ClassVar

# `locust -f loadtests/endpoints.py` puts loadtests/ (not the repo) on sys.path
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from loadtests.users import HTML, JSON, TEXT, EndpointUser, expect  # noqa: E402

QUERIES = 20
UPSTREAM_CALLS = 3
UPSTREAM_DELAY_MS = 20
CPU_N = 10_000
ITEMS_PER_PAGE = 20
ITEM_IDS = 100  # ids 1..ITEM_IDS are read until the first list page tells the real ones


class _SimpleUser(EndpointUser):
    """One GET of ``path``, named ``name``, checked for 200 and ``content_type``."""

    abstract = True
    path: ClassVar[str]
    name: ClassVar[str]
    content_type: ClassVar[str] = JSON

    def request(self, context: dict[str, Any]) -> None:
        with self.client.get(self.path, name=self.name, context=context, catch_response=True) as r:
            expect(r, 200, self.content_type)


class JsonUser(_SimpleUser):
    path = name = "/json"


class PlaintextUser(_SimpleUser):
    path = name = "/plaintext"
    content_type = TEXT


class DbUser(_SimpleUser):
    path = name = "/db"


class QueriesUser(_SimpleUser):
    path, name = f"/queries?queries={QUERIES}", "/queries"


class UpdatesUser(_SimpleUser):
    path, name = f"/updates?queries={QUERIES}", "/updates"


class FortunesUser(_SimpleUser):
    path = name = "/fortunes"
    content_type = HTML


class UpstreamUser(_SimpleUser):
    path = f"/upstream?calls={UPSTREAM_CALLS}&delay_ms={UPSTREAM_DELAY_MS}"
    name = "/upstream"


class CpuUser(_SimpleUser):
    path, name = f"/cpu?n={CPU_N}", "/cpu"


def item_ids(payload: Any) -> list[int]:
    """Item ids from a list answer: a JSON list of items or {"items": [...]}."""
    items = payload.get("items", []) if isinstance(payload, dict) else payload
    ids = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), int):
            ids.append(item["id"])
    return ids


class ItemsUser(EndpointUser):
    """REST reads: one paginated list for every four single-item reads."""

    ids: ClassVar[list[int]] = list(range(1, ITEM_IDS + 1))

    def request(self, context: dict[str, Any]) -> None:
        if random.random() < 0.2:
            page = random.randint(1, 5)
            with self.client.get(
                f"/api/items?page={page}&per_page={ITEMS_PER_PAGE}",
                name="/api/items",
                context=context,
                catch_response=True,
            ) as r:
                if expect(r, 200, JSON) and page == 1:
                    ids = item_ids(r.json())
                    if ids:
                        type(self).ids = ids
            return
        item_id = random.choice(self.ids)
        with self.client.get(
            f"/api/items/{item_id}",
            name="/api/items/<int:item_id>",
            context=context,
            catch_response=True,
        ) as r:
            expect(r, 200, JSON)
