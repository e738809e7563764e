"""What a correct target answers, endpoint by endpoint: the table of checks ``CHECKS`` (status,
content type and body shape per endpoint, the REST life cycle of an item, the browsing
journey with its login and CSRF tokens) and the validators it is made of.
``targets.verify`` walks this table against a live server or a Flask test client.

Imports no app code: the harness may reach it through ``targets.verify``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
WORLD_ROWS = 10_000
XSS_ESCAPED = (
    "&lt;script&gt;alert(&#34;This should not be displayed in a browser alert box.&#34;);"
    "&lt;/script&gt;"
)
_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    text: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.text)


class Transport(Protocol):
    def __call__(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        body: str | None = None,
    ) -> Reply: ...


Validator = Callable[[Reply, dict[str, Any]], str | None]


@dataclass(frozen=True)
class Check:
    """One request and what its answer must look like.

    ``path``, ``form`` and ``json_body`` may hold ``{name}`` fields filled from what
    earlier checks saved (``save``), e.g. the CSRF token or a created item's id; a check
    whose fields are not known yet (an earlier check failed) is reported, not sent.
    """

    name: str
    method: str
    path: str
    status: int
    content_type: str | None = None
    body: Validator | None = None
    json_body: Any = None
    form: dict[str, str] | None = None
    raw_body: str | None = None
    location: str | None = None  # the redirect's path must start with this
    save: Callable[[Reply, dict[str, Any]], None] | None = None


# -- body validators ------------------------------------------------------------------


def _is_world(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and set(obj) == {"id", "randomNumber"}
        and all(type(obj[k]) is int and 1 <= obj[k] <= WORLD_ROWS for k in obj)
    )


def _is_item(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and set(obj) == {"id", "name", "description", "price_cents"}
        and type(obj["id"]) is int
        and isinstance(obj["name"], str)
        and isinstance(obj["description"], str)
        and type(obj["price_cents"]) is int
    )


def equals_json(expected: Any) -> Validator:
    def check(reply: Reply, _ctx: dict[str, Any]) -> str | None:
        got = reply.json()
        return None if got == expected else f"body {got!r} != {expected!r}"

    return check


def equals_text(expected: str) -> Validator:
    def check(reply: Reply, _ctx: dict[str, Any]) -> str | None:
        return None if reply.text == expected else f"body {reply.text[:80]!r} != {expected!r}"

    return check


def world_object(reply: Reply, _ctx: dict[str, Any]) -> str | None:
    got = reply.json()
    return None if _is_world(got) else f"not a World object: {str(got)[:80]}"


def world_list(length: int) -> Validator:
    def check(reply: Reply, _ctx: dict[str, Any]) -> str | None:
        got = reply.json()
        if not isinstance(got, list) or len(got) != length:
            return f"expected a list of {length} World objects, got {str(got)[:80]}"
        bad = [row for row in got if not _is_world(row)]
        return f"not World objects: {str(bad)[:80]}" if bad else None

    return check


def fortunes_page(reply: Reply, _ctx: dict[str, Any]) -> str | None:
    text = reply.text
    if "<script>alert" in text:
        return "the <script> fortune is not escaped"
    if XSS_ESCAPED not in text:
        return "the <script> fortune is missing or escaped differently"
    for needle in ("Additional fortune added at request time.", "フレームワークのベンチマーク"):
        if needle not in text:
            return f"missing fortune {needle!r}"
    rows = text.count("<tr><td>")
    return None if rows == 13 else f"expected 13 fortune rows, found {rows}"


def item_matching(**fields: Any) -> Validator:
    def check(reply: Reply, ctx: dict[str, Any]) -> str | None:
        got = reply.json()
        if not _is_item(got):
            return f"not an item: {str(got)[:80]}"
        wrong = {k: got[k] for k, v in fields.items() if got[k] != v}
        if "item_id" in ctx and got["id"] != ctx["item_id"]:
            wrong["id"] = got["id"]
        return f"fields differ: {wrong}" if wrong else None

    return check


def item_page(reply: Reply, _ctx: dict[str, Any]) -> str | None:
    got = reply.json()
    if not isinstance(got, dict) or set(got) != {"items", "page", "per_page", "total", "pages"}:
        return f"not a page of items: {str(got)[:80]}"
    if got["page"] != 1 or got["per_page"] != 5 or len(got["items"]) > 5:
        return f"wrong paging: page={got['page']} per_page={got['per_page']}"
    bad = [row for row in got["items"] if not _is_item(row)]
    return f"not items: {str(bad)[:80]}" if bad else None


def json_error(*keys: str) -> Validator:
    def check(reply: Reply, _ctx: dict[str, Any]) -> str | None:
        got = reply.json()
        if not isinstance(got, dict) or "error" not in got or "message" not in got:
            return f"not a JSON error body: {str(got)[:80]}"
        missing = [k for k in keys if k not in got]
        return f"error body lacks {missing}" if missing else None

    return check


def contains(*needles: str) -> Validator:
    def check(reply: Reply, ctx: dict[str, Any]) -> str | None:
        for needle in needles:
            needle = needle.format(**ctx)
            if needle not in reply.text:
                return f"page lacks {needle!r}"
        return None

    return check


def html_form_with_csrf(reply: Reply, _ctx: dict[str, Any]) -> str | None:
    if "<form" not in reply.text or not _CSRF_RE.search(reply.text):
        return "no form with a csrf_token field"
    return None


def upstream_body(calls: int, delay_ms: int) -> Validator:
    return equals_json(
        {"calls": calls, "delay_ms": delay_ms, "results": [{"delay_ms": delay_ms}] * calls}
    )


def cpu_body(reply: Reply, _ctx: dict[str, Any]) -> str | None:
    got = reply.json()
    ok = isinstance(got, dict) and got.get("n") == 1000 and type(got.get("result")) is int
    return None if ok else f"not a cpu answer: {str(got)[:80]}"


# -- savers ---------------------------------------------------------------------------


def save_csrf(reply: Reply, ctx: dict[str, Any]) -> None:
    match = _CSRF_RE.search(reply.text)
    if match:
        ctx["csrf"] = match.group(1)


def save_item_id(reply: Reply, ctx: dict[str, Any]) -> None:
    got = reply.json()
    if isinstance(got, dict) and type(got.get("id")) is int:
        ctx["item_id"] = got["id"]


def save_html_item_id(reply: Reply, ctx: dict[str, Any]) -> None:
    match = re.fullmatch(r"/items/(\d+)", urlsplit(reply.headers.get("location", "")).path)
    if match:
        ctx["html_item_id"] = int(match.group(1))


JSON = "application/json"
HTML = "text/html"
VERIFY_ITEM = {"name": "verify item", "description": "made by verify", "price_cents": 1234}
VERIFY_ITEM_2 = {"name": "verify item 2", "description": "replaced", "price_cents": 99}
LOGIN_FORM = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD, "csrf_token": "{csrf}"}
ITEM_FORM = {
    "name": "verify form item",
    "description": "<b>made</b> by verify",
    "price_cents": "250",
    "csrf_token": "{csrf}",
}

CHECKS: tuple[Check, ...] = (
    Check("healthz", "GET", "/healthz", 200, JSON, equals_json({"status": "ok"})),
    Check("json", "GET", "/json", 200, JSON, equals_json({"message": "Hello, World!"})),
    Check("plaintext", "GET", "/plaintext", 200, "text/plain", equals_text("Hello, World!")),
    Check("db", "GET", "/db", 200, JSON, world_object),
    Check("queries", "GET", "/queries?queries=5", 200, JSON, world_list(5)),
    Check("queries clamp 0", "GET", "/queries?queries=0", 200, JSON, world_list(1)),
    Check("queries not a number", "GET", "/queries?queries=foo", 200, JSON, world_list(1)),
    Check("queries clamp 501", "GET", "/queries?queries=501", 200, JSON, world_list(500)),
    Check("queries missing", "GET", "/queries", 200, JSON, world_list(1)),
    Check("updates", "GET", "/updates?queries=3", 200, JSON, world_list(3)),
    Check("updates not a number", "GET", "/updates?queries=x", 200, JSON, world_list(1)),
    Check("fortunes", "GET", "/fortunes", 200, HTML, fortunes_page),
    Check("cpu", "GET", "/cpu?n=1000", 200, JSON, cpu_body),
    Check("upstream", "GET", "/upstream?calls=2&delay_ms=1", 200, JSON, upstream_body(2, 1)),
    Check("api list", "GET", "/api/items?page=1&per_page=5", 200, JSON, item_page),
    Check("api list bad page", "GET", "/api/items?page=x", 400, JSON, json_error()),
    Check(
        "api create",
        "POST",
        "/api/items",
        201,
        JSON,
        item_matching(**VERIFY_ITEM),
        json_body=VERIFY_ITEM,
        location="/api/items/",
        save=save_item_id,
    ),
    Check("api get", "GET", "/api/items/{item_id}", 200, JSON, item_matching(**VERIFY_ITEM)),
    Check(
        "api replace",
        "PUT",
        "/api/items/{item_id}",
        200,
        JSON,
        item_matching(**VERIFY_ITEM_2),
        json_body=VERIFY_ITEM_2,
    ),
    Check(
        "api get replaced",
        "GET",
        "/api/items/{item_id}",
        200,
        JSON,
        item_matching(**VERIFY_ITEM_2),
    ),
    Check(
        "api invalid",
        "POST",
        "/api/items",
        422,
        JSON,
        json_error("fields"),
        json_body={"name": "", "price_cents": "free"},
    ),
    Check("api not json", "POST", "/api/items", 400, JSON, json_error(), raw_body="name=x"),
    Check("api delete", "DELETE", "/api/items/{item_id}", 204),
    Check("api get deleted", "GET", "/api/items/{item_id}", 404, JSON, json_error()),
    Check("api delete again", "DELETE", "/api/items/{item_id}", 404, JSON, json_error()),
    Check("api 405", "PATCH", "/api/items", 405, JSON, json_error()),
    Check("api 404", "GET", "/api/no-such-thing", 404, JSON, json_error()),
    Check("html 404", "GET", "/no-such-page", 404, HTML, contains("404")),
    Check("home", "GET", "/", 302, location="/items"),
    Check("items page", "GET", "/items", 200, HTML, contains("Item 00")),
    Check("protected redirects", "GET", "/items/new", 302, location="/login"),
    Check("login page", "GET", "/login", 200, HTML, html_form_with_csrf, save=save_csrf),
    Check(
        "login without csrf",
        "POST",
        "/login",
        400,
        HTML,
        form={"username": DEMO_USERNAME, "password": DEMO_PASSWORD},
    ),
    Check(
        "login wrong password",
        "POST",
        "/login",
        401,
        HTML,
        contains("Invalid"),
        form={**LOGIN_FORM, "password": "wrong-password"},
    ),
    Check("login", "POST", "/login", 303, form=LOGIN_FORM, location="/items"),
    Check("new item form", "GET", "/items/new", 200, HTML, html_form_with_csrf, save=save_csrf),
    Check(
        "new item without csrf",
        "POST",
        "/items/new",
        400,
        HTML,
        form={k: v for k, v in ITEM_FORM.items() if k != "csrf_token"},
    ),
    Check(
        "new item",
        "POST",
        "/items/new",
        303,
        form=ITEM_FORM,
        location="/items/",
        save=save_html_item_id,
    ),
    Check(
        "item page",
        "GET",
        "/items/{html_item_id}",
        200,
        HTML,
        contains("verify form item", "&lt;b&gt;made&lt;/b&gt;", "2.50"),
    ),
    Check("logout page", "GET", "/logout", 200, HTML, html_form_with_csrf, save=save_csrf),
    Check("logout", "POST", "/logout", 303, form={"csrf_token": "{csrf}"}, location="/login"),
    Check("logged out", "GET", "/items/new", 302, location="/login"),
    Check("clean up", "DELETE", "/api/items/{html_item_id}", 204),
)
