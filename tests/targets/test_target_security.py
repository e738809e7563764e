"""Hostile input, XSS, CSRF, login, error pages, debug mode and secrets."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import func, select

from targets.common.db import item, world
from targets.common.state import EXTENSION_KEY

HOSTILE = [
    "1; DROP TABLE world",
    "1' OR '1'='1",
    "' OR 1=1 --",
    "1 UNION SELECT id, randomnumber FROM world",
    "-1",
    "-99999999999999999999",
    "0",
    "99999999999999999999999999",
    "9" * 5000,
    "abc",
    "",
    "1.5",
    "1e3",
    "0x10",
    "%00",
    "NaN",
    "<script>alert(1)</script>",
    "١٢",  # Arabic-Indic digits: int() reads them as 12
]
SQL_LIKE = re.compile(r"DROP|UNION|OR ", re.IGNORECASE)


def _counts(app) -> tuple[int, int]:
    engine = app.extensions[EXTENSION_KEY].db.engine
    with engine.connect() as conn:
        worlds = conn.execute(select(func.count()).select_from(world)).scalar_one()
        items = conn.execute(select(func.count()).select_from(item)).scalar_one()
    return worlds, items


@pytest.mark.parametrize("path", ["/queries", "/updates"])
def test_hostile_queries_parameter(make_app, variant, path):
    app = make_app(variant)
    client = app.test_client()
    for value in HOSTILE:
        response = client.get(path, query_string={"queries": value})
        assert response.status_code == 200, (value, response.status_code)
        rows = response.get_json()
        expected = 500 if value.lstrip().startswith("9") else 12 if value == "١٢" else 1
        assert len(rows) == expected, (value, len(rows))
    assert _counts(app) == (10_000, 100)


def test_hostile_parameters_elsewhere(make_app, variant):
    app = make_app(variant)
    client = app.test_client()
    for value in HOSTILE:
        for path, params in [
            ("/cpu", {"n": value}),
            ("/upstream", {"calls": value, "delay_ms": "0"}),
            ("/api/items", {"page": value}),
            ("/api/items", {"per_page": value}),
            ("/items", {"page": value}),
            ("/db", {"id": value}),
            ("/fortunes", {"q": value}),
        ]:
            response = client.get(path, query_string=params)
            assert response.status_code in (200, 400), (path, value, response.status_code)
            if path == "/api/items" and response.status_code == 200:
                assert len(response.get_json()["items"]) <= 100
            if path == "/upstream":
                assert 1 <= len(response.get_json()["results"]) <= 20
        for path in (f"/api/items/{value}", f"/items/{value}"):
            assert client.get(path).status_code in (200, 404), (path, value)
    assert _counts(app) == (10_000, 100)


def test_upstream_delay_is_bounded(make_app):
    client = make_app("async").test_client()
    body = client.get("/upstream?calls=2&delay_ms=99999999999").get_json()
    assert body["delay_ms"] == 1000 and body["results"] == [{"delay_ms": 1000}] * 2
    assert client.get("/upstream?calls=1&delay_ms=-5").get_json()["delay_ms"] == 0


def test_upstream_total_wait_per_request_is_bounded(make_app):
    """calls=20 x 1000 ms would hold a sync worker 20 s: the delay is lowered to 2 s in all."""
    from targets.common.params import UPSTREAM_TOTAL_MS, upstream_params

    assert upstream_params("20", "1000") == (20, UPSTREAM_TOTAL_MS // 20)
    assert upstream_params("2", "1000") == (2, 1000)
    assert upstream_params("5", "20") == (5, 20)
    body = make_app("async").test_client().get("/upstream?calls=20&delay_ms=1000").get_json()
    assert body["calls"] == 20
    assert body["calls"] * body["delay_ms"] <= UPSTREAM_TOTAL_MS
    assert body["results"] == [{"delay_ms": UPSTREAM_TOTAL_MS // 20}] * 20


def test_huge_ids_are_not_found(make_app, variant):
    client = make_app(variant).test_client()
    for item_id in (0, 2**31, 2**63, 10**30):
        assert client.get(f"/api/items/{item_id}").status_code == 404
        assert (
            client.put(f"/api/items/{item_id}", json={"name": "x", "price_cents": 1}).status_code
            == 404
        )
        assert client.delete(f"/api/items/{item_id}").status_code == 404


def test_api_bodies_are_validated(make_app):
    client = make_app("sync").test_client()
    bad = [
        ({"name": "x"}, "price_cents"),
        ({"name": "x", "price_cents": True}, "price_cents"),
        ({"name": "x", "price_cents": -1}, "price_cents"),
        ({"name": "x" * 101, "price_cents": 1}, "name"),
        ({"name": "x", "price_cents": 1, "description": 5}, "description"),
        ({"name": "x", "price_cents": 1, "admin": True}, "admin"),
        ({"name": "'; DROP TABLE item; --", "price_cents": 10**30}, "price_cents"),
    ]
    for body, field in bad:
        response = client.post("/api/items", json=body)
        assert response.status_code == 422, body
        assert field in response.get_json()["fields"]
    for raw in ("[1, 2]", "not json", '"a string"', "{"):
        response = client.post("/api/items", data=raw, content_type="application/json")
        assert response.status_code == 400 and response.is_json
    created = client.post("/api/items", json={"name": "'; DROP TABLE item; --", "price_cents": 1})
    assert created.status_code == 201
    assert client.get(created.headers["Location"]).get_json()["name"] == "'; DROP TABLE item; --"


def test_xss_payload_renders_escaped(make_app, variant):
    client = make_app(variant).test_client()
    page = client.get("/fortunes").get_data(as_text=True)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(" in page
    created = client.post(
        "/api/items", json={"name": "<img src=x onerror=alert(1)>", "price_cents": 1}
    )
    item_page = client.get(f"/items/{created.get_json()['id']}").get_data(as_text=True)
    assert "<img src=x" not in item_page and "&lt;img src=x" in item_page


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_csrf_is_required_on_forms(make_app):
    client = make_app("sync").test_client()
    form = {"username": "demo", "password": "demo-password"}
    assert client.post("/login", data=form).status_code == 400
    assert client.post("/login", data={**form, "csrf_token": "forged"}).status_code == 400
    token = _csrf(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={**form, "csrf_token": token}).status_code == 303
    item = {"name": "n", "price_cents": "1"}
    assert client.post("/items/new", data=item).status_code == 400
    assert client.post("/logout").status_code == 400
    assert client.get("/items/new").status_code == 200  # still logged in


def test_protected_page_redirects_to_login(make_app, variant):
    client = make_app(variant).test_client()
    response = client.get("/items/new")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fitems%2Fnew"
    # a POST without a CSRF token is refused before anything else
    assert client.post("/items/new", data={"name": "x"}).status_code == 400


def test_login_never_redirects_off_site(make_app):
    client = make_app("sync").test_client()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        token = _csrf(client.get("/login").get_data(as_text=True))
        form = {"username": "demo", "password": "demo-password", "csrf_token": token}
        response = client.post("/login", query_string={"next": target}, data=form)
        assert response.status_code == 303 and response.headers["Location"] == "/items"
        client.post(
            "/logout", data={"csrf_token": _csrf(client.get("/logout").get_data(as_text=True))}
        )


def test_wrong_password_is_refused(make_app):
    client = make_app("sync").test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    for user, password in [("demo", "nope"), ("nobody", "demo-password"), ("demo' --", "x")]:
        form = {"username": user, "password": password, "csrf_token": token}
        assert client.post("/login", data=form).status_code == 401
    assert client.get("/items/new").status_code == 302


def test_500_is_logged_and_never_leaked(make_app, caplog):
    app = make_app("sync", TESTING=False)

    @app.get("/api/boom")
    def api_boom():
        raise RuntimeError("secret detail 12345")

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail 12345")

    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        api = client.get("/api/boom")
        html = client.get("/boom")
    assert (
        api.status_code == 500
        and api.is_json
        and api.get_json()["error"] == "internal_server_error"
    )
    assert html.status_code == 500 and html.content_type.startswith("text/html")
    for response in (api, html):
        body = response.get_data(as_text=True)
        assert "secret detail" not in body and "Traceback" not in body
    assert "secret detail 12345" in caplog.text and "Traceback" in caplog.text


def test_error_pages_by_path(make_app):
    client = make_app("sync").test_client()
    response = client.delete("/api/items")
    assert response.status_code == 405 and response.is_json
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    response = client.post("/json")
    assert response.status_code == 405 and response.content_type.startswith("text/html")
    response = client.post(
        "/api/items", data="x" * (2 * 1024 * 1024), content_type="application/json"
    )
    assert response.status_code == 413 and response.is_json


def test_debug_off_unless_asked(make_app, monkeypatch):
    app = make_app("sync")
    assert not app.debug and "debugtoolbar" not in app.extensions
    assert "flask_debugtoolbar" not in app.blueprints
    monkeypatch.setenv("FLASK_DEBUG_TOOLBAR", "true")
    debug_app = make_app("sync", db_name="debug")
    assert debug_app.debug
    assert debug_app.config["DEBUG_TB_INTERCEPT_REDIRECTS"] is False
    assert debug_app.config["DEBUG_TB_PROFILER_ENABLED"] is True
    page = debug_app.test_client().get("/items").get_data(as_text=True)
    assert "flDebug" in page
    # redirects are not intercepted
    assert debug_app.test_client().get("/items/new").status_code == 302


def test_secret_key_from_config_env_or_random(make_app, monkeypatch):
    assert make_app("sync", db_name="a").config["SECRET_KEY"] == "test-secret"
    monkeypatch.setenv("FLASK_SECRET_KEY", "from-env")
    from targets.sync_app import create_app

    db = make_app("sync", db_name="b").config["DATABASE_URL"]
    app = create_app({"DATABASE_URL": db, "TESTING": True})
    assert app.config["SECRET_KEY"] == "from-env"
    monkeypatch.delenv("FLASK_SECRET_KEY")
    first = create_app({"DATABASE_URL": db})
    second = create_app({"DATABASE_URL": db})
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]
    for one in (app, first, second):
        one.extensions[EXTENSION_KEY].close()


def test_session_cookie_flags(make_app):
    client = make_app("sync").test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": "demo", "password": "demo-password", "csrf_token": token}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["X-Content-Type-Options"] == "nosniff"
