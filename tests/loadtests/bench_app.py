"""A small Flask app standing in for the reference targets in the recorder's tests.

Run: ``python tests/loadtests/bench_app.py PORT`` (Werkzeug, threaded, 127.0.0.1 only).
Same paths and request names as the targets for what the tests drive, plus:
``/fail`` answers 500 every ``FAIL_EVERY``-th request, ``/wrongtype`` answers 200 with
the wrong content type, ``/profiled`` marks every 4th response ``X-Bench-Profiled: 1``,
``/stall?ms=`` sleeps, and ``/json`` stalls once for ``STALL_MS`` after ``STALL_AFTER``
requests when those environment variables are set.
"""

from __future__ import annotations

import itertools
import os
import secrets
import sys
import threading
import time

from flask import Flask, abort, jsonify, redirect, request, session

app = Flask(__name__)
app.config["SECRET_KEY"] = "test-only"

_counter = itertools.count(1)
_lock = threading.Lock()
_items: dict[int, dict] = {
    i: {"id": i, "name": f"item {i}", "price_cents": i} for i in range(1, 11)
}
_next_id = itertools.count(11)
STALL_AFTER = int(os.environ.get("STALL_AFTER", "0"))
STALL_MS = float(os.environ.get("STALL_MS", "0"))
_stalled = threading.Event()


@app.get("/healthz")
def healthz():
    return "ok"


@app.get("/json")
def json_():
    n = next(_counter)
    if STALL_AFTER and n >= STALL_AFTER and not _stalled.is_set():
        with _lock:  # every request waits behind the stall, as a stuck worker would
            if not _stalled.is_set():
                time.sleep(STALL_MS / 1000)
                _stalled.set()
    return jsonify(message="Hello, World!")


@app.get("/plaintext")
def plaintext():
    return "Hello, World!", 200, {"Content-Type": "text/plain"}


@app.get("/fail")
def fail():
    if next(_counter) % 3 == 0:
        return jsonify(error="boom"), 500
    return jsonify(ok=True)


@app.get("/wrongtype")
def wrongtype():
    return "not json", 200, {"Content-Type": "text/plain"}


@app.get("/profiled")
def profiled():
    headers = {"X-Bench-Profiled": "1"} if next(_counter) % 4 == 0 else {}
    return jsonify(ok=True), 200, headers


@app.get("/stall")
def stall():
    time.sleep(float(request.args.get("ms", "0")) / 1000)
    return jsonify(ok=True)


def _csrf() -> str:
    session.setdefault("csrf_token", secrets.token_hex(8))
    return session["csrf_token"]


def _check_csrf() -> None:
    if request.form.get("csrf_token") != session.get("csrf_token"):
        abort(400)


FORM = '<form method="post"><input id="csrf_token" name="csrf_token" type="hidden" value="{}">'


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        _check_csrf()
        if (
            request.form.get("username") != "demo"
            or request.form.get("password") != "demo-password"
        ):
            abort(401)
        session["user"] = "demo"
        return redirect("/items", code=303)
    return "<html>" + FORM.format(_csrf()) + "</form></html>"


@app.route("/logout", methods=["GET", "POST"])
def logout():
    if request.method == "POST":
        _check_csrf()
        session.pop("user", None)
        return redirect("/login", code=303)
    return "<html>" + FORM.format(_csrf()) + "</form></html>"


def _login_required() -> None:
    if session.get("user") != "demo":
        abort(403)


@app.get("/items")
def items():
    _login_required()
    rows = list(_items.items())[:20]
    links = "".join(f'<a href="/items/{i}">{v["name"]}</a>' for i, v in rows)
    return f"<html>{links}</html>"


@app.get("/items/<int:item_id>")
def item(item_id: int):
    _login_required()
    if item_id not in _items:
        abort(404)
    return f"<html>{_items[item_id]['name']}</html>"


@app.route("/items/new", methods=["GET", "POST"])
def item_new():
    _login_required()
    if request.method == "POST":
        _check_csrf()
        i = next(_next_id)
        _items[i] = {"id": i, "name": request.form.get("name", ""), "price_cents": 1}
        return redirect(f"/items/{i}", code=303)
    return "<html>" + FORM.format(_csrf()) + "</form></html>"


@app.route("/api/items", methods=["GET", "POST"])
def api_items():
    if request.method == "POST":
        data = request.get_json()
        i = next(_next_id)
        _items[i] = {"id": i, **data}
        return jsonify(_items[i]), 201
    page = int(request.args.get("page", 1))
    per_page = int(request.args.get("per_page", 20))
    rows = list(_items.values())[(page - 1) * per_page : page * per_page]
    return jsonify(items=rows, page=page, per_page=per_page, total=len(_items))


@app.route("/api/items/<int:item_id>", methods=["GET", "PUT", "DELETE"])
def api_item(item_id: int):
    if item_id not in _items:
        abort(404)
    if request.method == "PUT":
        _items[item_id] = {"id": item_id, **request.get_json()}
    elif request.method == "DELETE":
        del _items[item_id]
        return "", 204
    return jsonify(_items[item_id])


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
