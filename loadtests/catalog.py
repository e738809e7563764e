"""The scenarios the harness can run, by name: which locustfile and which User classes.

No locust import here: the harness reads this module to validate ``--scenario`` and
to build Locust's command line (``harness/loadgen.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LOADTESTS_DIR = Path(__file__).resolve().parent

SHAPES: tuple[str, ...] = ("constant", "step", "spike")


@dataclass(frozen=True)
class Scenario:
    """One workload: ``locust -f loadtests/<locustfile> <user_classes...>``.

    ``open_model_ok`` is True when every request stands alone (no login session, no
    per-user state), so the scenario can run on a fixed schedule (``--bench-rate``).
    """

    name: str
    locustfile: str
    user_classes: tuple[str, ...]
    description: str
    open_model_ok: bool


def _endpoint(name: str, user_class: str, description: str) -> Scenario:
    return Scenario(name, "endpoints.py", (user_class,), description, True)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _endpoint("json", "JsonUser", "GET /json: serialise a small dict"),
        _endpoint("plaintext", "PlaintextUser", "GET /plaintext: a fixed text body"),
        _endpoint("db", "DbUser", "GET /db: one random row from the database"),
        _endpoint("queries", "QueriesUser", "GET /queries?queries=20: 20 single-row queries"),
        _endpoint("fortunes", "FortunesUser", "GET /fortunes: rows rendered by a template"),
        _endpoint("updates", "UpdatesUser", "GET /updates?queries=20: 20 reads and writes"),
        _endpoint(
            "upstream", "UpstreamUser", "GET /upstream?calls=3&delay_ms=20: waits on an upstream"
        ),
        _endpoint("cpu", "CpuUser", "GET /cpu?n=...: CPU-bound work in the view"),
        _endpoint(
            "items", "ItemsUser", "GET /api/items (paginated list) and /api/items/<id> (REST reads)"
        ),
        Scenario(
            "browse",
            "browse.py",
            ("BrowseUser",),
            "a logged-in journey: log in (CSRF form), list and view items, create one, log out",
            False,
        ),
        Scenario(
            "api_write",
            "api_write.py",
            ("ApiWriteUser",),
            "write-heavy REST: create, replace, delete and read items of /api/items",
            False,
        ),
    )
}


def locustfile_path(name: str) -> Path:
    """The absolute path of scenario ``name``'s locustfile (KeyError for an unknown name)."""
    return LOADTESTS_DIR / SCENARIOS[name].locustfile
