"""The REST resource ``/api/items``: JSON in and out, clear 400/404/405/422 bodies.

The blueprint is exempt from CSRF: it is a token-less JSON API for load generators and
scripts, authenticated by nothing and changing only demo items. Browsers cannot send a
cross-site ``application/json`` POST/PUT/DELETE without a CORS preflight, which this app
never grants, so the classic form-based CSRF attack does not reach it; a request without
a JSON body is refused with 400.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from targets.common import params
from targets.common.state import bench_state

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PER_PAGE = 100
FIELDS = {"name", "description", "price_cents"}
MAX_PRICE_CENTS = 1_000_000_000


def api_error(status: int, error: str, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify(error=error, message=message, **extra), status


def validate_item(payload: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The item fields of ``payload`` and a field -> problem map (empty when valid)."""
    problems: dict[str, str] = {}
    for key in payload:
        if key not in FIELDS and key != "id":
            problems[str(key)[:50]] = "unknown field"
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        problems["name"] = "required: a non-empty string"
    elif len(name) > 100:
        problems["name"] = "at most 100 characters"
    description = payload.get("description", "")
    if not isinstance(description, str):
        problems["description"] = "must be a string"
    elif len(description) > 1000:
        problems["description"] = "at most 1000 characters"
    price = payload.get("price_cents")
    if isinstance(price, bool) or not isinstance(price, int):
        problems["price_cents"] = "required: an integer number of cents"
    elif not 0 <= price <= MAX_PRICE_CENTS:
        problems["price_cents"] = f"must be between 0 and {MAX_PRICE_CENTS}"
    data = {"name": name, "description": description, "price_cents": price}
    return data, problems


def _item_body() -> tuple[dict[str, Any] | None, tuple[Response, int] | None]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return None, api_error(
            400, "bad_request", "the body must be a JSON object (Content-Type: application/json)"
        )
    data, problems = validate_item(payload)
    if problems:
        return None, api_error(422, "validation_failed", "the item is not valid", fields=problems)
    return data, None


@bp.get("/items")
def list_items() -> Response | tuple[Response, int]:
    page = params.strict_int(request.args.get("page"), default=1, low=1, high=1_000_000)
    per_page = params.strict_int(request.args.get("per_page"), default=20, low=1)
    if page is None or per_page is None:
        return api_error(
            400, "bad_request", "page and per_page must be integers >= 1 (page <= 1000000)"
        )
    per_page = min(per_page, MAX_PER_PAGE)
    items, total = bench_state().db.list_items((page - 1) * per_page, per_page)
    return jsonify(
        items=items, page=page, per_page=per_page, total=total, pages=-(-total // per_page)
    )


@bp.post("/items")
def create_item() -> Response | tuple[Response, int]:
    data, error = _item_body()
    if error:
        return error
    created = bench_state().db.create_item(data)  # type: ignore[arg-type]
    response = jsonify(created)
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_item", item_id=created["id"])
    return response


@bp.get("/items/<int:item_id>")
def get_item(item_id: int) -> Response | tuple[Response, int]:
    found = bench_state().db.get_item(item_id)
    if found is None:
        return api_error(404, "not_found", f"no item with id {item_id}")
    return jsonify(found)


@bp.put("/items/<int:item_id>")
def replace_item(item_id: int) -> Response | tuple[Response, int]:
    data, error = _item_body()
    if error:
        return error
    replaced = bench_state().db.replace_item(item_id, data)  # type: ignore[arg-type]
    if replaced is None:
        return api_error(404, "not_found", f"no item with id {item_id}")
    return jsonify(replaced)


@bp.delete("/items/<int:item_id>")
def delete_item(item_id: int) -> Response | tuple[Response, int]:
    if not bench_state().db.delete_item(item_id):
        return api_error(404, "not_found", f"no item with id {item_id}")
    return Response(status=204)
