"""A user's app with a Flask-WTF login, redirects and a routes file: one real run, checked.

The app is written here: a public redirect (/old), pages behind a login (/account,
/users/<id>, /teams/<id>/members), a page that sends even a logged-in user back to the
login (/admin), a logout and a GET route with a side effect (/reset), and the rule "/"
twice in the URL map. Its module is ``wiki.server``: the report must say
``wiki.server:app``, not "server".
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.helpers import bench, latest_run, load

pytestmark = pytest.mark.e2e

APP = """
import functools
import time

from flask import Flask, redirect, render_template_string, session
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

app = Flask(__name__)
app.config["SECRET_KEY"] = "test-only-secret"
FORM = '<form method="post">{{ form.csrf_token }}{{ form.username }}{{ form.password }}</form>'


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired()])
    password = PasswordField(validators=[DataRequired()])


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if session.get("user") != "demo":
            return redirect("/login?next=/private")
        return view(*args, **kwargs)

    return wrapped


@app.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        if (form.username.data, form.password.data) == ("demo", "demo-password"):
            session["user"] = "demo"
            return redirect("/")
    return render_template_string(FORM, form=form)


@app.get("/")
def index():
    return "home"


app.add_url_rule("/", "home_again", index)  # the same rule twice in the URL map


@app.get("/account")
@login_required
def account():
    time.sleep(0.002)
    return "your account"


@app.get("/users/<int:user_id>")
@login_required
def user(user_id):
    return f"user {user_id}"


@app.get("/teams/<int:user_id>/members")
@login_required
def team(user_id):
    return f"team of {user_id}"


@app.get("/old")
def old():
    return redirect("/", 301)


@app.get("/admin")
def admin():
    return redirect("/login")  # nobody here is an admin: even logged in, back to the login


@app.get("/logout")
def logout():
    session.clear()
    return redirect("/")


@app.get("/reset")
def reset():
    return "everything deleted"
"""

ROUTES = """
[login]
path = "/login"
fields = { username = "demo", password = "demo-password" }

[args]
user_id = [1, 2]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wiki-project")
    (folder / "wiki").mkdir()
    (folder / "wiki" / "__init__.py").write_text("")
    (folder / "wiki" / "server.py").write_text(APP)
    (folder / "routes.toml").write_text(ROUTES)
    return folder


@pytest.fixture(scope="module")
def run(project: Path) -> tuple[subprocess.CompletedProcess, Path]:
    args = ["run", "--app", "wiki.server:app", "--routes", "routes.toml", "--exclude", "/reset"]
    size = ["--server", "gunicorn-sync", "--workers", "1", "--users", "2"]
    result = bench([*args, *size, "--warmup", "1s", "--duration", "3s"], project)
    assert result.returncode == 0, result.stderr[-2000:]
    return result, latest_run(project / "runs")


def _cell_routes(run_dir: Path) -> dict[str, dict]:
    (path,) = run_dir.glob("cells/*/r0/routes.json")
    return {r["name"]: r for r in load(path.parent, "routes.json")["routes"]}


def test_routes_generated_once_with_logout_and_excluded_routes_left_out(run) -> None:
    _, run_dir = run
    routes = load(run_dir, "routes.json")
    names = [r["name"] for r in routes["routes"]]
    assert sorted(names) == [
        "/",
        "/account",
        "/admin",
        "/login",
        "/old",
        "/teams/<int:user_id>/members",
        "/users/<int:user_id>",
    ]  # "/" is in the URL map twice, measured once
    assert "/reset (--exclude /reset)" in routes["skipped"]
    assert any(s.startswith("/logout (logging out") for s in routes["skipped"])
    users = next(r for r in routes["routes"] if r["name"] == "/users/<int:user_id>")
    assert users["urls"] == ["/users/1", "/users/2"]  # from [args]


def test_a_redirecting_route_is_reported_and_measured_as_the_redirect(run) -> None:
    _, run_dir = run
    old = _cell_routes(run_dir)["/old"]
    assert old["redirect"]["status"] == 301
    assert old["redirect"]["location"].endswith("/")
    (row,) = load(run_dir, "summary.json")["rows"]
    assert any(w.startswith("route /old redirects (HTTP 301 to ") for w in row["warnings"])
    measured = row["endpoints"]["GET /old"]
    assert measured["requests"] > 0 and measured["failures"] == {}  # each answer a 3xx
    admin = _cell_routes(run_dir)["/admin"]
    assert admin["redirect"]["location"].endswith("/login")
    assert any("route /admin still lands on the login page" in w for w in row["warnings"])


def test_routes_behind_the_login_are_measured_logged_in(run) -> None:
    _, run_dir = run
    cell_routes = _cell_routes(run_dir)
    (row,) = load(run_dir, "summary.json")["rows"]
    for name in ("/account", "/users/<int:user_id>", "/teams/<int:user_id>/members"):
        # checked logged in (a 200, not the 302 to /login an anonymous visitor gets) ...
        assert cell_routes[name]["expect"] == 200 and "redirect" not in cell_routes[name]
        # ... and measured so: a 3xx under load would be a failure of this endpoint
        measured = row["endpoints"][f"GET {name}"]
        assert measured["requests"] > 0, name
        assert measured["failures"] == {}, (name, measured["failures"])


def test_the_report_and_console_lead_with_the_slowest_endpoints(run) -> None:
    result, run_dir = run
    assert "Slowest endpoints, and why" in result.stdout
    assert "wiki.server:app" in result.stdout
    html = (run_dir / "report.html").read_text()
    lead = html[html.index('<section id="lead">') : html.index("</section>")]
    assert "wiki.server:app · gunicorn-sync · routes" in lead
    assert "the slowest endpoint is GET /" in lead
    assert "dominates the tail" in lead  # from the Server-Timing breakdown
    assert html.index('id="lead"') < html.index('id="summary"')


def test_a_routes_file_mistake_exits_2_in_one_line(project: Path, tmp_path: Path) -> None:
    bad = tmp_path / "routes.toml"
    bad.write_text("[args]\nusr_id = [1]\n")
    result = bench(
        ["run", "--app", "wiki.server:app", "--app-dir", str(project), "--routes", str(bad)],
        tmp_path,
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "[args]: unknown argument usr_id; did you mean user_id?" in line
    assert not (tmp_path / "runs").exists()
