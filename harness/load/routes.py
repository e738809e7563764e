"""Scenario generation for a user's own Flask app, from its URL map.

The app is imported in a child process (``python -m harness.load.routes``), never into
the harness itself. Every GET route without required arguments is requested, evenly
weighted; routes with arguments join when the user gives example values in a TOML
file::

    [values]
    "/users/<int:user_id>" = { user_id = [1, 2, 3] }
    "/posts/<slug>" = { slug = ["hello-world"] }
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runfolder.errors import ConfigError, HarnessError

MAX_URLS_PER_ROUTE = 50
SKIPPED_PREFIXES = ("/static", "/_debug_toolbar")


@dataclass(frozen=True)
class Route:
    rule: str
    methods: tuple[str, ...]
    arguments: tuple[str, ...]
    defaults: tuple[str, ...]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(a for a in self.arguments if a not in self.defaults)


def discover_routes(app: str, app_dir: Path | None, timeout: float = 60) -> list[Route]:
    """The app's URL rules, read by importing it in a child process."""
    argv = [sys.executable, "-m", "harness.load.routes", "--app", app]
    if app_dir:
        argv += ["--app-dir", str(app_dir)]
    try:
        out = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(Path(__file__).resolve().parents[2]),  # the repository: no __init__.py
        )
    except subprocess.TimeoutExpired:
        raise HarnessError(
            f"--app {app}: importing the app took more than {timeout:.0f}s"
        ) from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"--app {app}: the app could not be loaded: {last}")
    return [
        Route(r["rule"], tuple(r["methods"]), tuple(r["arguments"]), tuple(r["defaults"]))
        for r in json.loads(out.stdout)
    ]


def load_values(path: Path | None) -> dict[str, dict[str, list[Any]]]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"--routes: {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--routes: {path} is not valid TOML: {exc}") from None
    values = data.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise ConfigError(f"--routes: {path} needs a [values] table of route = {{arg = [...]}}")
    return values


def _fill(rule: str, args: dict[str, Any]) -> str:
    import re
    from urllib.parse import quote

    def sub(match: re.Match[str]) -> str:
        return quote(str(args[match.group(2)]), safe="/" if match.group(1) == "path" else "")

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", sub, rule)


def build_routes(
    routes: list[Route], values: dict[str, dict[str, list[Any]]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Routes to load as ``{"name", "method", "urls"}``, and notes on routes left out."""
    out, skipped = [], []
    for route in sorted(routes, key=lambda r: r.rule):
        if "GET" not in route.methods or route.rule.startswith(SKIPPED_PREFIXES):
            continue
        if "<" not in route.rule:
            out.append({"name": route.rule, "method": "GET", "urls": [route.rule]})
            continue
        given = values.get(route.rule)
        missing = [a for a in route.arguments if not given or a not in given]
        if missing:
            skipped.append(f"{route.rule} (no example values for {', '.join(missing)})")
            continue
        assert given is not None
        keys = list(route.arguments)
        combos = itertools.islice(itertools.product(*(given[k] for k in keys)), MAX_URLS_PER_ROUTE)
        urls = [_fill(route.rule, dict(zip(keys, combo, strict=True))) for combo in combos]
        out.append({"name": route.rule, "method": "GET", "urls": urls})
    unused = sorted(set(values) - {r.rule for r in routes})
    skipped += [f"{rule} (in the values file, but the app has no such route)" for rule in unused]
    return out, skipped


def verify_routes(
    base_url: str, routes: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Request every URL once; keep routes that answered < 400, report the others."""
    good, failed = [], []
    for route in routes:
        ok_urls = []
        for url in route["urls"]:
            try:
                with urllib.request.urlopen(base_url.rstrip("/") + url, timeout=10) as resp:
                    ok_urls.append(url) if resp.status < 400 else None
            except urllib.error.HTTPError as exc:
                failed.append(f"GET {url}: HTTP {exc.code}")
            except (OSError, urllib.error.URLError) as exc:
                failed.append(f"GET {url}: {getattr(exc, 'reason', exc)}")
        if ok_urls:
            good.append({**route, "urls": ok_urls})
    return good, failed


def _main() -> None:
    parser = argparse.ArgumentParser(description="Print a Flask app's URL rules as JSON.")
    parser.add_argument("--app", required=True)
    parser.add_argument("--app-dir", default=None)
    args = parser.parse_args()
    if args.app_dir:
        sys.path.insert(0, str(Path(args.app_dir).resolve()))
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
