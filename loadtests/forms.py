"""HTML form helpers shared by the scenarios and the harness's route verification.

No Locust here: ``harness.load.routes`` logs in with the same rules before any load is
sent, so the verification and the Locust users agree on what a login is.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_CSRF = re.compile(
    r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"|'
    r'<input[^>]*\bvalue="([^"]+)"[^>]*\bname="csrf_token"'
)


def csrf_token(html: str | None) -> str | None:
    """The ``csrf_token`` hidden field of a Flask-WTF form, or None."""
    m = _CSRF.search(html or "")
    return (m.group(1) or m.group(2)) if m else None


def login_data(fields: dict[str, str], form_html: str | None) -> dict[str, str]:
    """The login POST's fields: the configured ones, plus the form's CSRF token if it has one."""
    token = csrf_token(form_html)
    return {**fields, "csrf_token": token} if token else dict(fields)


def lands_on(location: str | None, path: str) -> bool:
    """Does a redirect's ``Location`` point at ``path`` (any host, any query string)?"""
    return bool(location) and urlsplit(location or "").path.rstrip("/") == path.rstrip("/")
