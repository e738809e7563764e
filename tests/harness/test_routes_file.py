"""The routes file (--routes) is read strictly, and the generated routes are what it says.

Each mistake a user made on a real app is a one-line ConfigError naming the key (exit 2
through the CLI); the one subprocess for the exit code is in tests/e2e/test_app_routes.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.load.routes import Route, build_routes
from harness.load.routes_file import RoutesFile, parse_routes_file
from runfolder.errors import ConfigError

ROUTES = [
    Route("/", ("GET", "HEAD", "OPTIONS"), (), ()),
    Route("/", ("GET", "HEAD", "OPTIONS"), (), ()),  # listed twice in the URL map
    Route("/login", ("GET", "POST"), (), ()),
    Route("/logout", ("GET",), (), ()),
    Route("/posts/<slug>", ("GET",), ("slug",), ()),
    Route("/users/<int:user_id>", ("GET",), ("user_id",), ()),
    Route("/users/<int:user_id>/teams", ("GET",), ("user_id",), ()),
    Route("/admin/reset", ("GET",), (), ()),
    Route("/admin/stats", ("GET",), (), ()),
]

MISTAKES = {
    "a misspelled section": (
        '[valuez]\n"/posts/<slug>" = { slug = ["a"] }\n',
        "unknown section [valuez]; did you mean [values]?",
    ),
    "an unknown login key": (
        '[login]\npath = "/login"\nfields = { username = "u" }\nusername = "demo"\n',
        "[login]: unknown key username",
    ),
    "a string instead of a list": ('[values]\n"/posts/<slug>" = { slug = "Home" }\n', "slug"),
    "a string instead of a list in [args]": ('[args]\nuser_id = "7"\n', "[args] user_id"),
    "an empty list": ("[args]\nuser_id = []\n", "[args] user_id"),
    "a table inside a list": ("[args]\nuser_id = [{ a = 1 }]\n", "[args] user_id"),
    "a section given as a value": ("values = 3\n", "values must be a section"),
    "a login without fields": ('[login]\npath = "/login"\n', "[login] fields"),
    "a login path without a slash": (
        '[login]\npath = "login"\nfields = { username = "u" }\n',
        "[login] path",
    ),
    "invalid TOML": ("[values\n", "not valid TOML"),
}

NAME_MISTAKES = {
    "a misspelled argument": (
        '[values]\n"/users/<int:user_id>" = { usr_id = [1] }\n',
        "unknown argument usr_id; did you mean user_id?",
    ),
    "an argument no route has": ("[args]\nteam_id = [1]\n", "[args]: unknown argument team_id"),
    "a route the app does not have": (
        '[values]\n"/post/<slug>" = { slug = ["a"] }\n',
        'unknown route "/post/<slug>"; did you mean "/posts/<slug>"?',
    ),
    "a login path the app does not have": (
        '[login]\npath = "/signin"\nfields = { username = "u" }\n',
        "[login] path /signin",
    ),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_a_mistake_in_the_file_is_one_line_naming_the_key(name: str) -> None:
    text, named = MISTAKES[name]
    with pytest.raises(ConfigError) as err:
        parse_routes_file(text, "--routes routes.toml")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("--routes routes.toml: ")
    assert named in message


def test_a_string_is_not_split_into_characters() -> None:
    with pytest.raises(ConfigError) as err:
        parse_routes_file('[values]\n"/posts/<slug>" = { slug = "Home" }\n')
    assert 'write slug = ["Home"]' in str(err.value)


@pytest.mark.parametrize("name", NAME_MISTAKES)
def test_a_name_the_app_does_not_have_is_an_error(name: str) -> None:
    text, named = NAME_MISTAKES[name]
    spec = parse_routes_file(text, "--routes routes.toml")
    with pytest.raises(ConfigError) as err:
        build_routes(ROUTES, spec)
    assert "\n" not in str(err.value)
    assert named in str(err.value)


def test_an_exclude_that_matches_nothing_is_an_error() -> None:
    with pytest.raises(ConfigError, match="--exclude /admin/delete"):
        build_routes(ROUTES, RoutesFile(), exclude=("/admin/delete",))


def test_shared_args_per_route_values_exclude_and_one_entry_per_rule() -> None:
    spec = parse_routes_file(
        "[args]\nuser_id = [1, 2]\nslug = ['x']\n"
        '[values]\n"/users/<int:user_id>/teams" = { user_id = [9] }\n'
    )
    routes, skipped = build_routes(ROUTES, spec, exclude=("/admin/r*",))
    urls = {r["name"]: r["urls"] for r in routes}
    assert [r["name"] for r in routes].count("/") == 1  # the duplicated rule, once
    assert urls["/users/<int:user_id>"] == ["/users/1", "/users/2"]  # from [args]
    assert urls["/users/<int:user_id>/teams"] == ["/users/9/teams"]  # [values] wins
    assert urls["/posts/<slug>"] == ["/posts/x"]
    assert "/admin/reset" not in urls and "/admin/stats" in urls
    assert "/admin/reset (--exclude /admin/r*)" in skipped
    assert "/logout" in urls  # no login: logging out is just another page


def test_with_a_login_logging_out_is_left_out() -> None:
    spec = parse_routes_file(
        '[login]\npath = "/login"\nfields = { username = "demo", password = "pw" }\n'
    )
    routes, skipped = build_routes(ROUTES, spec)
    assert "/logout" not in {r["name"] for r in routes}
    assert any(s.startswith("/logout (logging out would end") for s in skipped)
    assert spec.login is not None and spec.login.fields == {"username": "demo", "password": "pw"}


def test_the_cli_exits_2_on_a_bad_routes_file(tmp_path: Path) -> None:
    """In-process through click: the shape is checked before the app is imported."""
    from harness.cli.main import cli

    (tmp_path / "routes.toml").write_text('[values]\n"/posts/<slug>" = { slug = "Home" }\n')
    app = ["--app", "nowhere:app", "--app-dir", str(tmp_path)]
    routes = ["--routes", str(tmp_path / "routes.toml"), "--out", str(tmp_path / "runs")]
    result = CliRunner().invoke(cli, ["run", *app, *routes])
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert "slug" in line and "needs a list" in line
    assert not (tmp_path / "runs").exists()


def test_exclude_needs_app() -> None:
    from harness.config import RunConfig

    with pytest.raises(ConfigError, match="--exclude go with --app"):
        RunConfig.build(exclude=("/x",))
