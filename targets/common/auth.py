"""Flask-Login set-up: users come from the ``user_account`` table."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask_login import LoginManager, UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from targets.common.state import bench_state

login_manager = LoginManager()
login_manager.login_view = "web.login"
login_manager.session_protection = "basic"


class User(UserMixin):
    def __init__(self, user_id: int, username: str) -> None:
        self.id = user_id
        self.username = username


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        row = bench_state().db.user_by_id(int(user_id))
    except ValueError:
        return None
    return User(row["id"], row["username"]) if row else None


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-password")


def authenticate(username: str, password: str) -> User | None:
    """The user when the password matches; an unknown name costs the same hash check."""
    row = bench_state().db.user_by_name(username)
    if row is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(row["password_hash"], password):
        return None
    return User(row["id"], row["username"])


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None
