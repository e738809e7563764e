"""User base classes shared by the scenarios, and the response checks.

- ``ThinkingUser``: FastHttpUser whose think time is ``--bench-think-ms`` (default 0,
  a saturating closed loop).
- ``EndpointUser``: one request per iteration, ``request(context)``; runs the closed
  loop, or with ``--bench-rate`` the open model's fixed schedule (``openmodel``).

Checks are minimal on purpose (status and content type): the targets' verify step
checks bodies before every run; here a wrong answer must only be counted as a
failure and kept out of the latency histograms.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from locust import task
from locust.contrib.fasthttp import FastHttpUser

from loadtests import openmodel, recorder  # noqa: F401  (recorder: listeners and options)

OPEN_MODEL_IDLE_S = 1.0

JSON = "application/json"
HTML = "text/html"
TEXT = "text/plain"


def expect(response: Any, status: int | Collection[int] = 200, content_type: str = "") -> bool:
    """Mark a ``catch_response`` response failed unless status and content type match.

    Transport errors and 4xx/5xx answers (``response.error`` set) are left to Locust,
    which records the original exception or status; returns True when the response is good.
    """
    code = response.status_code
    if not code or getattr(response, "error", None) is not None:
        return False
    wanted = (status,) if isinstance(status, int) else tuple(status)
    if code not in wanted:
        response.failure(f"status {code}, expected {' or '.join(map(str, wanted))}")
        return False
    if content_type:
        got = (response.headers or {}).get("Content-Type") or ""
        if not got.startswith(content_type):
            response.failure(f"content type '{got}', expected {content_type}")
            return False
    return True


class ThinkingUser(FastHttpUser):
    abstract = True
    open_model_ok = False

    def wait_time(self) -> float:
        opts = self.environment.parsed_options
        think_ms = getattr(opts, "bench_think_ms", 0.0) if opts is not None else 0.0
        return float(think_ms or 0.0) / 1000.0


class EndpointUser(ThinkingUser):
    """One stateless request per iteration: closed loop, or open model with --bench-rate.

    In the open model the user is a connection that the schedule lends to due
    requests (``openmodel``); its own task loop only idles.
    """

    abstract = True
    open_model_ok = True
    concurrency = 1  # one request at a time per user (open model: user = connection)

    def request(self, context: dict[str, Any]) -> None:
        raise NotImplementedError

    def on_start(self) -> None:
        schedule = openmodel.current()
        if schedule is not None:
            schedule.add_user(self)

    def on_stop(self) -> None:
        schedule = openmodel.current()
        if schedule is not None:
            schedule.retire_user(self)

    def wait_time(self) -> float:
        if openmodel.current() is not None:
            return OPEN_MODEL_IDLE_S
        return super().wait_time()

    @task
    def iteration(self) -> None:
        if openmodel.current() is None:
            self.request({})
