"""Every endpoint of every variant answers correctly (verify through the test client)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from flask import Flask, jsonify

from targets.catalog import DESCRIPTIONS, TARGETS, app_spec
from targets.checks import CHECKS
from targets.verify import verify_client, verify_url


def test_every_endpoint_of_every_variant(make_app, variant):
    app = make_app(variant)
    assert verify_client(app.test_client()) == []


def test_verify_covers_every_route_of_the_contract(make_app):
    """Each URL rule of the app is requested by at least one check."""
    app = make_app("sync")
    rules = {r.rule for r in app.url_map.iter_rules()}
    checked = {c.path.split("?")[0] for c in CHECKS}
    checked |= {"/api/items/<int:item_id>", "/items/<int:item_id>"}
    assert rules <= checked, rules - checked


def test_verify_reports_a_wrong_answer():
    broken = Flask("broken")

    @broken.get("/json")
    def json_view():
        return jsonify(message="Hello, world")  # wrong case

    problems = verify_client(broken.test_client())
    assert any(p.startswith("json (GET /json): body") for p in problems)
    assert any("healthz" in p and "status 404" in p for p in problems)
    # checks that need an earlier answer are reported, not sent blindly
    assert any("not sent" in p for p in problems)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:8000", "http://example.com", "http://192.168.1.2", "http://[::2]:80"]
)
def test_verify_url_refuses_remote_hosts(url):
    with pytest.raises(ValueError, match="only checks servers on this machine"):
        verify_url(url)


def test_verify_url_reports_a_refused_connection():
    problems = verify_url("http://127.0.0.1:9")  # discard port: nothing listens
    assert problems and all("request failed" in p or "not sent" in p for p in problems)


def test_catalog_lists_the_four_variants():
    assert list(TARGETS) == ["sync", "async", "cached", "uncached"]
    assert all(DESCRIPTIONS[t] for t in TARGETS)
    assert app_spec("cached") == "targets.cached_app:create_app()"


def test_catalog_and_verify_do_not_import_flask():
    code = (
        "import sys, targets.catalog, targets.verify; "
        "bad = [m for m in sys.modules if m == 'flask' or m.startswith('targets.common')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
