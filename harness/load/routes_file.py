"""The routes file of ``--routes`` (TOML: ``[login]``, ``[args]``, ``[values]``), read strictly:
a misspelled section, key or argument, or a value of the wrong type, is a ConfigError
naming it. ``harness.load.routes`` fills the app's routes with these values.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runfolder.errors import ConfigError

SECTIONS = ("args", "login", "values")
LOGIN_KEYS = ("fields", "path")


Scalar = str | int | float | bool


@dataclass(frozen=True)
class Login:
    path: str
    fields: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "fields": self.fields}


@dataclass(frozen=True)
class RoutesFile:
    """What ``--routes`` gives: per-route values, values per argument name, a login."""

    values: dict[str, dict[str, list[Scalar]]] = field(default_factory=dict)
    args: dict[str, list[Scalar]] = field(default_factory=dict)
    login: Login | None = None
    where: str = "--routes"  # error prefix: the option and the file


def _scalars(value: Any, where: str, example: str) -> list[Scalar]:
    """A non-empty list of strings or numbers, or a ConfigError naming ``where``."""
    if isinstance(value, str | int | float | bool):
        raise ConfigError(
            f"{where}: needs a list of values, not the {type(value).__name__} "
            f"{json.dumps(value)} (a string is not split into characters); write "
            f"{example} = [{json.dumps(value)}]"
        )
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: needs a non-empty list of values, e.g. {example} = [1, 2]")
    bad = [v for v in value if not isinstance(v, str | int | float | bool)]
    if bad:
        raise ConfigError(f"{where}: {bad[0]!r} is not a string or a number")
    return list(value)


def _unknown(where: str, kind: str, key: str, known: Sequence[str]) -> ConfigError:
    """``unknown argument usr_id; did you mean user_id?`` (or the names there are)."""
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"there are: {', '.join(known) or 'none'}"
    return ConfigError(f"{where}: unknown {kind} {key}; {hint}")


def parse_routes_file(text: str, where: str = "--routes") -> RoutesFile:
    """The routes file's content, checked for shape: sections, keys and value types."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    for key, value in data.items():
        if key not in SECTIONS:
            raise _unknown(where, "section", f"[{key}]", [f"[{s}]" for s in SECTIONS])
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {key} must be a section ([{key}]), not a single value")
    values: dict[str, dict[str, list[Scalar]]] = {}
    for rule, given in data.get("values", {}).items():
        here = f'{where}: [values] "{rule}"'
        if not isinstance(given, dict):
            raise ConfigError(f"{here}: needs a table of argument = [values], e.g. {{ id = [1] }}")
        values[rule] = {arg: _scalars(v, f"{here} {arg}", arg) for arg, v in given.items()}
    args = {
        name: _scalars(v, f"{where}: [args] {name}", name)
        for name, v in data.get("args", {}).items()
    }
    return RoutesFile(values, args, _login(data.get("login"), where), where)


def _login(section: dict[str, Any] | None, where: str) -> Login | None:
    if section is None:
        return None
    for key in section:
        if key not in LOGIN_KEYS:
            raise _unknown(f"{where}: [login]", "key", key, LOGIN_KEYS)
    path, fields = section.get("path"), section.get("fields")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigError(f'{where}: [login] path: needs the login form\'s path, e.g. "/login"')
    if not isinstance(fields, dict) or not fields:
        raise ConfigError(
            f'{where}: [login] fields: needs the form fields, e.g. {{ username = "demo", '
            'password = "demo-password" }'
        )
    bad = [k for k, v in fields.items() if not isinstance(v, str | int | float)]
    if bad:
        raise ConfigError(f"{where}: [login] fields {bad[0]}: needs a string")
    return Login(path, {k: str(v) for k, v in fields.items()})


def load_routes_file(path: Path | None) -> RoutesFile:
    if path is None:
        return RoutesFile()
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"--routes: {path} does not exist") from None
    return parse_routes_file(text, f"--routes {path}")
