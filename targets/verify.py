"""TechEmpower-style verify: does a target answer every endpoint correctly?

``verify_url(base_url)`` checks a live server over HTTP (loopback only);
``verify_client(client)`` does the same through a Flask test client. Both walk one
table of checks (``targets.checks.CHECKS``): status, content type and body shape per
endpoint, the REST life cycle of an item, and the browsing journey with its login and
CSRF tokens.
They return the problems found; an empty list means the target is good.

Imports no app code: the harness may import this module (docs/architecture.md).
Checks that write (``/updates``, the item life cycle) leave the data as they found it,
except for the World rows ``/updates`` is meant to change.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import httpx

from targets.checks import CHECKS, Check, Reply, Transport


def run_checks(send: Transport, checks: tuple[Check, ...] = CHECKS) -> list[str]:
    """Send every check in order; the problems, each prefixed by its check's request."""
    problems: list[str] = []
    ctx: dict[str, Any] = {}
    for check in checks:
        label = f"{check.name} ({check.method} {check.path})"
        try:
            path = check.path.format(**ctx)
            form = {k: v.format(**ctx) for k, v in check.form.items()} if check.form else None
        except KeyError as exc:
            problems.append(f"{label}: not sent, an earlier check did not yield {exc}")
            continue
        try:
            reply = send(
                check.method, path, json_body=check.json_body, form=form, body=check.raw_body
            )
        except Exception as exc:  # a refused connection is a finding, not a crash
            problems.append(f"{label}: request failed: {type(exc).__name__}: {exc}")
            continue
        problem = _judge(check, reply, ctx)
        if problem:
            problems.append(f"{label}: {problem}")
        elif check.save:
            check.save(reply, ctx)
    return problems


def _judge(check: Check, reply: Reply, ctx: dict[str, Any]) -> str | None:
    if reply.status != check.status:
        return f"status {reply.status}, expected {check.status}: {reply.text[:120]!r}"
    if check.content_type and not reply.content_type.startswith(check.content_type):
        return f"content type {reply.content_type!r}, expected {check.content_type}"
    if check.location is not None:
        where = urlsplit(reply.headers.get("location", "")).path
        if not where.startswith(check.location):
            return f"redirects to {where!r}, expected {check.location}..."
    if check.body:
        try:
            return check.body(reply, ctx)
        except (ValueError, KeyError, TypeError) as exc:
            return f"unreadable body ({type(exc).__name__}): {reply.text[:80]!r}"
    return None


# -- transports -----------------------------------------------------------------------


def verify_client(client: Any, checks: tuple[Check, ...] = CHECKS) -> list[str]:
    """Run the checks through a Flask test client (``app.test_client()``)."""

    def send(
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        body: str | None = None,
    ) -> Reply:
        kwargs: dict[str, Any] = {}
        if json_body is not None:
            kwargs["json"] = json_body
        elif form is not None:
            kwargs["data"] = form
        elif body is not None:
            kwargs["data"] = body
            kwargs["content_type"] = "text/plain"
        response = client.open(path, method=method, **kwargs)
        return Reply(
            response.status_code,
            response.content_type or "",
            response.get_data(as_text=True),
            {k.lower(): v for k, v in response.headers.items()},
        )

    return run_checks(send, checks)


def is_loopback_url(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def verify_url(
    base_url: str,
    checks: tuple[Check, ...] = CHECKS,
    timeout: float = 30.0,
    *,
    allow_remote: bool = False,
) -> list[str]:
    """Run the checks against a live server: on this machine, or elsewhere when the
    caller was told it may load that machine (``--allow-remote``)."""
    if not allow_remote and not is_loopback_url(base_url):
        raise ValueError(
            f"verify_url only checks servers on this machine (127.0.0.1, ::1, localhost), "
            f"not {base_url!r}, unless allow_remote is given"
        )
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout) as http:

        def send(
            method: str,
            path: str,
            *,
            json_body: Any = None,
            form: dict[str, str] | None = None,
            body: str | None = None,
        ) -> Reply:
            kwargs: dict[str, Any] = {}
            if json_body is not None:
                kwargs["json"] = json_body
            elif form is not None:
                kwargs["data"] = form
            elif body is not None:
                kwargs["content"] = body
                kwargs["headers"] = {"Content-Type": "text/plain"}
            response = http.request(method, path, **kwargs)
            return Reply(
                response.status_code,
                response.headers.get("content-type", ""),
                response.text,
                {k.lower(): v for k, v in response.headers.items()},
            )

        return run_checks(send, checks)
