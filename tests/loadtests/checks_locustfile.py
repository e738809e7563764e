"""Users for the recorder's end-to-end tests, against ``bench_app.py``.

Each class hits one endpoint of the test app whose answers are known: failures by
status, answers rejected by the content-type check, profiled responses.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# `locust -f tests/loadtests/checks_locustfile.py` puts tests/loadtests/ on sys.path
_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from loadtests.users import JSON, EndpointUser, expect  # noqa: E402


def _get(user: EndpointUser, path: str, context: dict[str, Any]) -> None:
    with user.client.get(path, name=path, context=context, catch_response=True) as r:
        expect(r, 200, JSON)


class FailUser(EndpointUser):
    """/fail answers 500 on every third request."""

    def request(self, context: dict[str, Any]) -> None:
        _get(self, "/fail", context)


class WrongTypeUser(EndpointUser):
    """/wrongtype answers 200 text/plain: the JSON check fails it."""

    def request(self, context: dict[str, Any]) -> None:
        _get(self, "/wrongtype", context)


class ProfiledUser(EndpointUser):
    """/profiled marks every fourth response X-Bench-Profiled: 1."""

    def request(self, context: dict[str, Any]) -> None:
        _get(self, "/profiled", context)


class RefusedUser(EndpointUser):
    """Port 9 on loopback: nothing listens, every request fails with a connection error."""

    def wait_time(self) -> float:
        return 0.05  # failures come back at once: do not spin

    def request(self, context: dict[str, Any]) -> None:
        with self.client.get(
            "http://127.0.0.1:9/json", name="/refused", context=context, catch_response=True
        ) as r:
            expect(r, 200, JSON)
