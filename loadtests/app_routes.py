"""The generated scenario for a user's own Flask app: every verified GET route, evenly.

The harness writes the routes (from the app's URL map, with example values for
routes that take arguments, each checked once) and an optional login to a JSON file and
passes it with ``--bench-routes``::

    {"routes": [{"name": "/users/<int:user_id>", "method": "GET",
                 "urls": ["/users/1", "/users/2"], "expect": 200},
                {"name": "/old", "method": "GET", "urls": ["/old"], "expect": 300,
                 "redirect": {"status": 302, "location": "/new"}}],
     "login": {"path": "/login", "fields": {"username": "demo", "password": "..."}}}

Redirects are never followed: each request is measured alone. A route that redirected
when it was checked is measured as that redirect (a 3xx is its success); a route that
answered 2xx then and redirects now (a session that ended, a login that expired) is a
failure, so it is not silently measured as a redirect. With a login, each user logs in
once on start (GET the form for its CSRF token, POST the fields), as the harness did
when it checked the routes.

Run on its own: ``locust -f loadtests/app_routes.py --bench-routes routes.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# `locust -f loadtests/app_routes.py` puts loadtests/ (not the repo) on sys.path
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from locust import FastHttpUser, constant, events, task  # noqa: E402

from loadtests import recorder  # noqa: E402, F401  (registers the latency recorder)
from loadtests.forms import lands_on, login_data  # noqa: E402
from loadtests.options import user_random  # noqa: E402


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--bench-routes", default="", help="JSON file of routes to request")


def _status_class(code: int) -> int:
    return code // 100 * 100


class AppRoutesUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = user_random(self.environment)  # one seed on both sides of an ab pair
        path = self.environment.parsed_options.bench_routes
        if not path:
            raise SystemExit("app_routes.py needs --bench-routes FILE (written by bench.py)")
        data = json.loads(Path(path).read_text())
        self.routes: list[dict[str, Any]] = data if isinstance(data, list) else data["routes"]
        self.login: dict[str, Any] | None = None if isinstance(data, list) else data.get("login")
        if self.login:
            self.log_in(self.login["path"], self.login["fields"])

    def log_in(self, path: str, fields: dict[str, str]) -> None:
        """GET the form (its CSRF token), POST the fields; a redirect away means logged in."""
        name = f"{path} (login)"
        with self.client.get(path, name=name, catch_response=True) as form:
            if form.status_code != 200:
                form.failure(f"login form answered HTTP {form.status_code}")
                return
            html = form.text
        with self.client.post(
            path,
            name=name,
            data=login_data(fields, html),
            allow_redirects=False,
            catch_response=True,
        ) as r:
            location = (r.headers or {}).get("Location")
            if not 300 <= r.status_code < 400 or lands_on(location, path):
                r.failure(f"login failed: HTTP {r.status_code} to {location or '(no Location)'}")
            else:
                r.success()

    @task
    def request_route(self) -> None:
        route = self.rng.choice(self.routes)
        url = self.rng.choice(route["urls"])
        expect = int(route.get("expect") or 200)
        with self.client.get(
            url, name=route["name"], allow_redirects=False, catch_response=True
        ) as resp:
            code = resp.status_code
            if code >= 400:
                resp.failure(f"HTTP {code}")
            elif _status_class(code) != _status_class(expect):
                where = (resp.headers or {}).get("Location") or ""
                login = (self.login or {}).get("path")
                why = " (the login page: logged out?)" if login and lands_on(where, login) else ""
                was = f"{expect // 100}xx"
                resp.failure(f"HTTP {code} {where}{why}, it answered {was} when checked")
            else:
                resp.success()
