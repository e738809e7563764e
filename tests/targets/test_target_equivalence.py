"""A variant changes the technique, not the workload: same request, same body."""

from __future__ import annotations

import re

from targets.catalog import TARGETS

VARIANTS = tuple(TARGETS)

# (method, path, JSON body): deterministic once RANDOM_SEED fixes the World ids
SEQUENCE = [
    ("GET", "/json", None),
    ("GET", "/plaintext", None),
    ("GET", "/db", None),
    ("GET", "/queries?queries=7", None),
    ("GET", "/queries?queries=abc", None),
    ("GET", "/updates?queries=4", None),
    ("GET", "/db", None),
    ("GET", "/fortunes", None),
    ("GET", "/cpu?n=5000", None),
    ("GET", "/upstream?calls=3&delay_ms=2", None),
    ("GET", "/api/items?page=2&per_page=7", None),
    ("GET", "/api/items/5", None),
    ("POST", "/api/items", {"name": "same", "description": "everywhere", "price_cents": 10}),
    ("PUT", "/api/items/5", {"name": "five", "price_cents": 5}),
    ("GET", "/api/items/5", None),
    ("GET", "/api/items?page=1&per_page=3", None),
    ("DELETE", "/api/items/6", None),
    ("GET", "/api/items/6", None),
    ("POST", "/api/items", {"name": ""}),
    ("PATCH", "/api/items/5", None),
    ("GET", "/api/nothing", None),
    ("GET", "/nothing", None),
    ("GET", "/items", None),
    ("GET", "/items?page=3", None),
    ("GET", "/items/5", None),
    ("GET", "/items/new", None),
    ("GET", "/login", None),
    ("GET", "/logout", None),
    ("GET", "/healthz", None),
]
CSRF_VALUE = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]+"')


def _answers(app) -> list[tuple[str, int, str, str]]:
    client = app.test_client()
    out = []
    for method, path, body in SEQUENCE:
        response = client.open(path, method=method, json=body)
        text = CSRF_VALUE.sub(r'\1TOKEN"', response.get_data(as_text=True))
        out.append((f"{method} {path}", response.status_code, response.content_type, text))
    return out


def test_same_bodies_in_every_variant(make_app):
    answers = {v: _answers(make_app(v, RANDOM_SEED=1234)) for v in VARIANTS}
    reference = answers["uncached"]
    for variant, got in answers.items():
        for ref, ans in zip(reference, got, strict=True):
            assert ans == ref, f"{variant} differs from uncached on {ref[0]}"


def test_seeded_data_is_deterministic(make_app):
    one = make_app("sync", db_name="one", fresh=True, RANDOM_SEED=5).test_client()
    two = make_app("sync", db_name="two", fresh=True, RANDOM_SEED=5).test_client()
    for path in ("/queries?queries=20", "/api/items?per_page=100"):
        assert one.get(path).get_json() == two.get(path).get_json()
