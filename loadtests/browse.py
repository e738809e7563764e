"""The ``browse`` scenario: a logged-in visitor of the HTML pages.

Journey per user: GET /login, POST /login with the CSRF token of the form (user
``demo``), then, weighted like a catalogue visit, mostly item pages and list pages,
now and then the CSRF-protected create form (GET + POST /items/new), and once in a
while log out (GET /logout for its form, POST /logout) and log in again.

Redirects are not followed: every request is measured alone, as a browser would issue
it, and the 303 answers of the POSTs are checked as such. Closed model only (a session
per user): ``open_model_ok`` is False.

Run alone: ``locust -f loadtests/browse.py --headless -u 5 -r 5 -t 10s --host URL``.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

# `locust -f loadtests/browse.py` puts loadtests/ (not the repo) on sys.path
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from locust import task  # noqa: E402

from loadtests.forms import csrf_token  # noqa: E402
from loadtests.users import HTML, ThinkingUser, expect  # noqa: E402

USERNAME = "demo"
PASSWORD = "demo-password"
PAGES = 3  # list pages visited (the seeded items fill several)

_ITEM_LINK = re.compile(r'href="/items/(\d+)"')


def item_links(html: str | None) -> list[int]:
    return [int(i) for i in _ITEM_LINK.findall(html or "")]


class BrowseUser(ThinkingUser):
    open_model_ok = False

    def on_start(self) -> None:
        self.item_ids: list[int] = []
        self.logged_in = False
        self.log_in()

    # -- helpers -----------------------------------------------------------------------

    def form_token(self, path: str, name: str) -> str | None:
        """GET a form page; its CSRF token (None, counted as a failure, when missing)."""
        with self.client.get(path, name=name, catch_response=True) as r:
            if not expect(r, 200, HTML):
                return None
            token = csrf_token(r.text)
            if token is None:
                r.failure(f"no csrf_token field in {path}")
            return token

    def log_in(self) -> None:
        token = self.form_token("/login", "/login")
        if token is None:
            return
        with self.client.post(
            "/login",
            name="/login",
            data={"csrf_token": token, "username": USERNAME, "password": PASSWORD},
            allow_redirects=False,
            catch_response=True,
        ) as r:
            self.logged_in = expect(r, (302, 303))

    # -- tasks (weights: a visitor reads far more than they write, and a session lasts
    # about 45 pages between log-ins: the password check is deliberately slow (scrypt,
    # ~0.1-0.2 s of CPU), and logging in every few pages would make the journey mostly that)

    @task(30)
    def view_item(self) -> None:
        if not self.item_ids:
            self.list_items()
            return
        item_id = random.choice(self.item_ids)
        with self.client.get(
            f"/items/{item_id}", name="/items/<int:item_id>", catch_response=True
        ) as r:
            expect(r, 200, HTML)

    @task(12)
    def list_items(self) -> None:
        page = random.randint(1, PAGES)
        with self.client.get(f"/items?page={page}", name="/items", catch_response=True) as r:
            if expect(r, 200, HTML):
                ids = item_links(r.text)
                if ids:
                    self.item_ids = ids

    @task(3)
    def create_item(self) -> None:
        if not self.logged_in:
            self.log_in()
            return
        token = self.form_token("/items/new", "/items/new")
        if token is None:
            return
        data = {
            "csrf_token": token,
            "name": f"load test item {random.randint(1, 1_000_000)}",
            "description": "created by loadtests/browse.py",
            "price_cents": str(random.randint(100, 100_000)),
        }
        with self.client.post(
            "/items/new", name="/items/new", data=data, allow_redirects=False, catch_response=True
        ) as r:
            expect(r, (302, 303))

    @task(1)
    def log_out_and_in(self) -> None:
        token = self.form_token("/logout", "/logout")
        if token is None:
            return
        with self.client.post(
            "/logout",
            name="/logout",
            data={"csrf_token": token},
            allow_redirects=False,
            catch_response=True,
        ) as r:
            expect(r, (302, 303))
        self.logged_in = False
        self.log_in()
