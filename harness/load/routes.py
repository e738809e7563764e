"""Scenario generation for a user's own Flask app, from its URL map.

The app is imported in a child process (``python -m harness.load.routes``), never into
the harness itself. Every GET route without required arguments is requested, evenly
weighted, each URL-map rule once; routes with arguments join when the user gives
example values in a TOML file (``--routes``), read strictly: a misspelled section, key
or argument, or a value of the wrong type, is a ConfigError naming it, because a
mistake here would otherwise measure other routes than the user meant::

    [login]                     # each Locust user logs in once, before its first route
    path = "/login"
    fields = { username = "demo", password = "demo-password" }

    [args]                      # for every route with an argument of that name
    user_id = [1, 2]

    [values]                    # for one route (wins over [args])
    "/posts/<slug>" = { slug = ["hello-world"] }

Redirects are never followed: a route answering 3xx is measured as the redirect it is
(the verification says where it leads), not as the page behind it.
"""

from __future__ import annotations

import argparse
import fnmatch
import http.cookiejar
import itertools
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.load.routes_file import Login, RoutesFile, _unknown
from harness.stack.appenv import app_variables, launcher
from loadtests.forms import lands_on, login_data
from runfolder.errors import ConfigError, HarnessError

MODULE = "harness.load.routes"

MAX_URLS_PER_ROUTE = 50
SKIPPED_PREFIXES = ("/static", "/_debug_toolbar")
LOGOUT = "*logout*"  # left out with a [login]: one request would end the session


@dataclass(frozen=True)
class Route:
    rule: str
    methods: tuple[str, ...]
    arguments: tuple[str, ...]
    defaults: tuple[str, ...]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(a for a in self.arguments if a not in self.defaults)


def discover_routes(
    app: str,
    app_dir: Path | None,
    timeout: float = 60,
    *,
    python: Path | None = None,
    env: tuple[tuple[str, str], ...] = (),
) -> list[Route]:
    """The app's URL rules, read by importing it in a child process: under the app's own
    interpreter (``--app-python``) and with the variables its server gets."""
    here = [sys.executable, "-m", MODULE]
    argv = [*(launcher(python, "werkzeug", MODULE) if python else here), "--app", app]
    if app_dir:
        argv += ["--app-dir", str(app_dir)]
    try:
        out = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            # the harness's folder, where ``-m harness...`` is found; the app's has the overlay
            cwd=str(app_dir if python and app_dir else Path(__file__).resolve().parents[2]),
            env={**os.environ, **app_variables(app_dir, env)},
        )
    except subprocess.TimeoutExpired:
        raise HarnessError(
            f"--app {app}: importing the app took more than {timeout:.0f}s"
        ) from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        hint = ""
        if "Could not import" in last or "ModuleNotFoundError" in last:
            hint = (
                "; give --app-dir (the folder it is imported from) or --app-python "
                "(the virtualenv it is installed in)"
            )
        raise ConfigError(f"--app {app}: the app could not be loaded: {last}{hint}")
    return [
        Route(r["rule"], tuple(r["methods"]), tuple(r["arguments"]), tuple(r["defaults"]))
        for r in json.loads(out.stdout)
    ]


def _fill(rule: str, args: dict[str, Any]) -> str:
    from urllib.parse import quote

    def sub(match: re.Match[str]) -> str:
        return quote(str(args[match.group(2)]), safe="/" if match.group(1) == "path" else "")

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", sub, rule)


def unique_rules(routes: list[Route]) -> list[Route]:
    """One route per rule: a rule the URL map lists twice (two endpoints, or methods split
    over two registrations) is still one URL, and would otherwise get double weight."""
    by_rule: dict[str, Route] = {}
    for r in routes:
        seen = by_rule.get(r.rule)
        methods = tuple(sorted({*r.methods, *(seen.methods if seen else ())}))
        by_rule[r.rule] = Route(r.rule, methods, r.arguments, r.defaults)
    return [by_rule[rule] for rule in sorted(by_rule)]


def excluded_by(rule: str, patterns: Sequence[str]) -> str | None:
    """The first ``--exclude`` glob (fnmatch: ``*`` matches any characters, ``/`` too)
    matching the rule as the URL map spells it, or None."""
    return next((p for p in patterns if fnmatch.fnmatchcase(rule, p)), None)


def check_names(routes: list[Route], spec: RoutesFile, exclude: Sequence[str]) -> None:
    """Everything the routes file and ``--exclude`` name must exist in the app."""
    rules = {r.rule: r for r in routes}
    for rule, given in spec.values.items():
        if rule not in rules:
            quoted = [f'"{r}"' for r in sorted(rules)]
            raise _unknown(f"{spec.where}: [values]", "route", f'"{rule}"', quoted)
        for arg in given:
            if arg not in rules[rule].arguments:
                raise _unknown(
                    f'{spec.where}: [values] "{rule}"', "argument", arg, rules[rule].arguments
                )
    every_arg = sorted({a for r in routes for a in r.arguments})
    for name in spec.args:
        if name not in every_arg:
            raise _unknown(f"{spec.where}: [args]", "argument", name, every_arg)
    if spec.login and not any(r.rule == spec.login.path and "POST" in r.methods for r in routes):
        raise ConfigError(
            f"{spec.where}: [login] path {spec.login.path}: the app has no POST route there"
        )
    gets = [r.rule for r in routes if "GET" in r.methods]
    for pattern in exclude:
        if not any(fnmatch.fnmatchcase(rule, pattern) for rule in gets):
            raise ConfigError(
                f"--exclude {pattern}: matches none of the app's GET routes (a glob on the "
                "rule, e.g. '/admin/*' or '*/delete')"
            )


def build_routes(
    routes: list[Route], spec: RoutesFile | None = None, exclude: Sequence[str] = ()
) -> tuple[list[dict[str, Any]], list[str]]:
    """Routes to load as ``{"name", "method", "urls"}``, and notes on routes left out."""
    spec = spec or RoutesFile()
    routes = unique_rules(routes)
    check_names(routes, spec, exclude)
    patterns = [*exclude, *([LOGOUT] if spec.login else [])]
    out, skipped = [], []
    for route in routes:
        if "GET" not in route.methods or route.rule.startswith(SKIPPED_PREFIXES):
            continue
        pattern = excluded_by(route.rule, patterns)
        if pattern == LOGOUT and pattern not in exclude:
            skipped.append(f"{route.rule} (logging out would end the [login] session)")
            continue
        if pattern is not None:
            skipped.append(f"{route.rule} (--exclude {pattern})")
            continue
        if "<" not in route.rule:
            out.append({"name": route.rule, "method": "GET", "urls": [route.rule]})
            continue
        given = {**{a: spec.args[a] for a in route.arguments if a in spec.args}}
        given.update(spec.values.get(route.rule, {}))
        missing = [a for a in route.arguments if a not in given]
        if missing:
            skipped.append(f"{route.rule} (no example values for {', '.join(missing)})")
            continue
        keys = list(route.arguments)
        combos = itertools.islice(itertools.product(*(given[k] for k in keys)), MAX_URLS_PER_ROUTE)
        urls = [_fill(route.rule, dict(zip(keys, combo, strict=True))) for combo in combos]
        out.append({"name": route.rule, "method": "GET", "urls": urls})
    return out, skipped


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects come back as answers (``HTTPError`` with a 3xx code), never followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(_NoRedirect, urllib.request.HTTPCookieProcessor(jar))


def _fetch(
    opener: urllib.request.OpenerDirector, url: str, data: dict[str, str] | None = None
) -> tuple[int, str | None, str]:
    """(status, Location, body) of one request, redirects not followed."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with opener.open(url, data=body, timeout=10) as resp:
            return resp.status, resp.headers.get("Location"), resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location"), ""


def log_in(opener: urllib.request.OpenerDirector, base_url: str, login: Login) -> None:
    """The same login the Locust users do: GET the form, POST its fields and CSRF token."""
    url = base_url.rstrip("/") + login.path
    try:
        status, _, form = _fetch(opener, url)
        if status != 200:
            raise HarnessError(f"[login] GET {login.path} answered HTTP {status}, not the form")
        status, location, _ = _fetch(opener, url, login_data(login.fields, form))
    except (OSError, urllib.error.URLError) as exc:
        raise HarnessError(f"[login] {login.path}: {getattr(exc, 'reason', exc)}") from None
    if not 300 <= status < 400 or lands_on(location, login.path):
        raise HarnessError(
            f"[login] POST {login.path} answered HTTP {status}"
            + (f" to {location}" if location else "")
            + ", not a redirect away from the form: check the [login] fields of the routes file"
        )


def verify_routes(
    base_url: str, routes: list[dict[str, Any]], login: Login | None = None
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Request every URL once (logged in when ``login`` is given), redirects not followed.

    Returns the routes kept (each with ``expect``: its status class, and ``redirect`` when
    it answered 3xx), the failures that left URLs out, and notes on redirecting routes.
    """
    opener = _opener()
    if login:
        log_in(opener, base_url, login)
    good, failed, notes = [], [], []
    for route in routes:
        ok_urls, redirect = [], None
        for url in route["urls"]:
            try:
                status, location, _ = _fetch(opener, base_url.rstrip("/") + url)
            except (OSError, urllib.error.URLError) as exc:
                failed.append(f"GET {url}: {getattr(exc, 'reason', exc)}")
                continue
            if status >= 400:
                failed.append(f"GET {url}: HTTP {status}")
                continue
            ok_urls.append(url)
            if 300 <= status < 400 and redirect is None:
                redirect = {"status": status, "location": location or ""}
        if not ok_urls:
            continue
        kept = {**route, "urls": ok_urls, "expect": 300 if redirect else 200}
        if redirect:
            kept["redirect"] = redirect
            notes.append(redirect_note(route["name"], redirect, login))
        good.append(kept)
    return good, failed, notes


def redirect_note(name: str, redirect: dict[str, Any], login: Login | None) -> str:
    where = f"HTTP {redirect['status']} to {redirect['location'] or '(no Location)'}"
    if login and lands_on(redirect["location"], login.path):
        return (
            f"route {name} still lands on the login page after logging in ({where}); "
            "measured as that redirect"
        )
    hint = "" if login else "; behind a login? add a [login] section to the routes file"
    return (
        f"route {name} redirects ({where}): measured as the redirect itself (3xx counted "
        f"as success), not the page it leads to{hint}"
    )


def _main() -> None:
    parser = argparse.ArgumentParser(description="Print a Flask app's URL rules as JSON.")
    parser.add_argument("--app", required=True)
    parser.add_argument("--app-dir", default=None)
    args = parser.parse_args()
    if args.app_dir:
        sys.path.insert(0, str(Path(args.app_dir).resolve()))
        # Flask resolves a dotted --app (pkg.module:app) against the working folder
        os.chdir(args.app_dir)
    else:
        sys.path.insert(0, str(Path.cwd()))
    from flask.cli import ScriptInfo

    app = ScriptInfo(app_import_path=args.app).load_app()
    rules = [
        {
            "rule": r.rule,
            "methods": sorted(r.methods or ()),
            "arguments": sorted(r.arguments),
            "defaults": sorted(r.defaults or {}),
        }
        for r in app.url_map.iter_rules()
    ]
    print(json.dumps(rules))


if __name__ == "__main__":
    _main()
