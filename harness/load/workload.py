"""What Locust runs for a cell, checked before any load is sent.

A reference scenario against a verified target, the routes generated from a user's
app (each requested once; failing ones left out), or the user's own locustfile
with the recorder attached.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cells import Cell
from harness.config import GENERATED_SCENARIO, RunConfig
from harness.stack.servers import Stack
from runfolder import storage
from runfolder.errors import HarnessError

LOADTESTS = Path(__file__).resolve().parents[2] / "loadtests"


def check_reachable(url: str, timeout: float = 5.0) -> None:
    """Any HTTP answer will do (even 404): is something listening at ``--host``?"""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return
    except urllib.error.HTTPError:
        return
    except (OSError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HarnessError(
            f"--host {url}: nothing answers there ({reason}); start the app first or check the URL"
        ) from None


def generate_routes(cfg: RunConfig, note: Callable[[str], None]) -> dict[str, Any]:
    """The generated scenario's routes, read from the app's URL map (once per run)."""
    from harness.load.routes import build_routes, discover_routes
    from harness.load.routes_file import load_routes_file

    assert cfg.subject.app is not None
    spec = load_routes_file(cfg.subject.routes_file)  # its shape first: no app import needed
    routes, skipped = build_routes(
        discover_routes(
            cfg.subject.app,
            cfg.subject.app_dir,
            python=cfg.subject.app_python,
            env=cfg.subject.env,
        ),
        spec,
        cfg.subject.exclude,
    )
    for skip in skipped:
        note(f"route left out: {skip}")
    if not routes:
        raise HarnessError(
            f"--app {cfg.subject.app}: no GET route without arguments, and no example values "
            "given: "
            "add a TOML file with --routes (see 'python bench.py run --help')"
        )
    # the login's fields go to the run folder too, so the run can be repeated: the README
    # asks for a benchmark account
    return {
        "routes": routes,
        "skipped": skipped,
        "login": spec.login.to_json() if spec.login else None,
    }


@dataclass(frozen=True)
class Workload:
    """What Locust runs for a cell: a locustfile (or several), classes, extra flags."""

    locustfile: str
    user_classes: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    verify: str = "passed"  # what verify found: "passed ..." or "skipped: <why>"


def prepare_workload(
    cfg: RunConfig, cell: Cell, stack: Stack, cell_dir: Path, run_dir: Path
) -> Workload:
    """Resolve the scenario and verify the server before any load is sent."""
    from loadtests.catalog import SCENARIOS, locustfile_path

    arg = cell.scenario_arg or cell.scenario
    if arg in SCENARIOS:
        if cell.reference or cfg.subject.host:
            verify_stack(stack, cell, cell_dir, allow_remote=cfg.subject.allow_remote)
            verified = "passed"
        else:
            verified = "skipped: the reference checks describe the reference targets, not --app"
        return Workload(
            str(locustfile_path(arg)), tuple(SCENARIOS[arg].user_classes), verify=verified
        )
    if arg == GENERATED_SCENARIO:
        from harness.load.routes import verify_routes
        from harness.load.routes_file import Login

        generated = json.loads((run_dir / "routes.json").read_text())
        routes, login = generated["routes"], generated.get("login")
        good, failed, redirects = verify_routes(
            stack.url, routes, Login(**login) if login else None
        )
        if failed:
            (cell_dir / "verify.txt").write_text("\n".join(failed) + "\n")
        if not good:
            raise HarnessError(
                f"verify failed: none of the {len(routes)} generated routes answered below 400 "
                f"({failed[0] if failed else 'no routes'}); see {cell_dir / 'verify.txt'}"
            )
        routes_path = cell_dir / "routes.json"
        storage.write_json(routes_path, {"routes": good, "login": login})
        notes = (*redirects, *(f"route left out, it failed verify: {f}" for f in failed))
        return Workload(
            str(LOADTESTS / "app_routes.py"),
            ("AppRoutesUser",),
            ("--bench-routes", str(routes_path)),
            notes,
            verify=f"passed: {len(good)} routes"
            + (f", {len(redirects)} redirecting" if redirects else "")
            + (f", {len(failed)} left out" if failed else ""),
        )
    # the user's own locustfile, with the recorder loaded beside it
    return Workload(
        f"{Path(arg).resolve()},{LOADTESTS / 'attach.py'}",
        verify="skipped: a user's locustfile defines its own requests and checks",
    )


def verify_stack(stack: Stack, cell: Cell, cell_dir: Path, *, allow_remote: bool = False) -> None:
    """TechEmpower-style verify: refuse to measure a server that answers wrongly."""
    from targets.verify import verify_url

    problems = verify_url(stack.url, allow_remote=allow_remote)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        (cell_dir / "verify.txt").write_text("\n".join(problems) + "\n")
        logs = " and ".join(
            str(p) for p in (cell_dir / "verify.txt", cell_dir / "server.log") if p.exists()
        )
        raise HarnessError(
            f"verify failed for {cell.target} on {cell.server}: {problems[0]}{more}; see {logs}"
        )
