"""The generated scenario for a user's own Flask app: every verified GET route, evenly.

The harness writes the routes (from the app's URL map, with example values for
routes that take arguments) to a JSON file and passes it with ``--bench-routes``::

    [{"name": "/users/<int:user_id>", "method": "GET", "urls": ["/users/1", "/users/2"]}]

Run on its own: ``locust -f loadtests/app_routes.py --bench-routes routes.json``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

# `locust -f loadtests/app_routes.py` puts loadtests/ (not the repo) on sys.path
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from locust import FastHttpUser, constant, events, task  # noqa: E402

from loadtests import recorder  # noqa: E402, F401  (registers the latency recorder)


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--bench-routes", default="", help="JSON file of routes to request")


class AppRoutesUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        path = self.environment.parsed_options.bench_routes
        if not path:
            raise SystemExit("app_routes.py needs --bench-routes FILE (written by bench.py)")
        self.routes = json.loads(Path(path).read_text())

    @task
    def request_route(self) -> None:
        route = random.choice(self.routes)
        url = random.choice(route["urls"])
        with self.client.get(url, name=route["name"], catch_response=True) as resp:
            if resp.status_code >= 400:
                resp.failure(f"HTTP {resp.status_code}")
