"""HTML pages: login, logout and items, for a scripted browsing journey."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from targets.common import params
from targets.common.auth import authenticate, safe_next
from targets.common.forms import ItemForm, LoginForm, LogoutForm
from targets.common.state import bench_state

bp = Blueprint("web", __name__)

PAGE_SIZE = 20


@bp.get("/")
def index() -> Response:
    return redirect(url_for("web.list_items"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data or "", form.password.data or "")
        if user is None:
            error = "Invalid username or password."
            return render_template("login.html", form=form, error=error), 401
        login_user(user)
        target = safe_next(request.args.get("next")) or url_for("web.list_items")
        return redirect(target, code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("login.html", form=form, error=None), status


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> str | Response:
    """GET shows a confirmation form, POST (with its CSRF token) logs out."""
    form = LogoutForm()
    if form.validate_on_submit():
        logout_user()
        return redirect(url_for("web.login"), code=303)
    return render_template("logout.html", form=form)


@bp.get("/items")
def list_items() -> str:
    page = params.strict_int(request.args.get("page"), default=1, low=1, high=1_000_000)
    if page is None:
        abort(400, description="page must be an integer between 1 and 1000000")
    items, total = bench_state().db.list_items((page - 1) * PAGE_SIZE, PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template("items/list.html", items=items, page=page, pages=pages, total=total)


@bp.get("/items/<int:item_id>")
def show_item(item_id: int) -> str:
    found = bench_state().db.get_item(item_id)
    if found is None:
        abort(404, description=f"There is no item {item_id}.")
    return render_template("items/detail.html", item=found)


@bp.route("/items/new", methods=["GET", "POST"])
@login_required
def new_item() -> str | Response | tuple[str, int]:
    form = ItemForm()
    if form.validate_on_submit():
        created = bench_state().db.create_item(
            {
                "name": form.name.data,
                "description": form.description.data or "",
                "price_cents": form.price_cents.data,
            }
        )
        return redirect(url_for("web.show_item", item_id=created["id"]), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("items/new.html", form=form, user=current_user), status
