"""From the options a command received to a validated RunConfig: pinning, the app's
environment and the flat option names RunConfig.build takes, checked once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.config import FLAT, TOP_LEVEL, RunConfig, parse_cpus, parse_host_port
from harness.sections import Pinning
from harness.userenv import parse_env_file, parse_env_pairs, resolve_python
from runfolder.errors import ConfigError


def pinning(server_cpus: str | None, generator_cpus: str | None, no_pin: bool) -> Pinning:
    if no_pin:
        if server_cpus or generator_cpus:
            raise ConfigError("--no-pin cannot be combined with --server-cpus/--generator-cpus")
        return Pinning(None, None)
    default = Pinning.default()
    srv = parse_cpus(server_cpus, "--server-cpus") if server_cpus else default.server_cpus
    gen = (
        parse_cpus(generator_cpus, "--generator-cpus") if generator_cpus else default.generator_cpus
    )
    if srv is None or gen is None:
        return Pinning(srv, gen)
    overlap = set(srv) & set(gen)
    if overlap:
        raise ConfigError(
            f"--server-cpus and --generator-cpus share CPU {min(overlap)}: they must be disjoint"
        )
    return Pinning(srv, gen)


def app_environment(opts: dict[str, Any]) -> dict[str, Any]:
    """``app_python`` (the interpreter of a venv folder), ``env`` and ``env_file`` from the
    options, the file's variables first and ``--env`` over them."""
    out: dict[str, Any] = {}
    if opts.get("app_python"):
        out["app_python"] = resolve_python(Path(opts["app_python"]))
    env: dict[str, str] = {}
    if opts.get("env_file"):
        out["env_file"] = Path(opts["env_file"]).absolute()
        # a .env made for development often turns debug mode on: measured servers never run in it
        file_env = parse_env_file(out["env_file"])
        env.update({k: v for k, v in file_env.items() if not k.startswith("FLASK_DEBUG")})
    env.update(parse_env_pairs(opts.get("env_pairs") or ()))
    if env:
        out["env"] = tuple(env.items())
    return out


def config_from_options(
    opts: dict[str, Any], *, profile: bool = False, default_name: str | None = None
) -> RunConfig:
    """A validated ``RunConfig`` from the options a command received (unknown keys ignored)."""
    flat = {k: v for k, v in opts.items() if (k in FLAT or k in TOP_LEVEL) and v is not None}
    for key in ("targets", "scenarios", "servers"):
        if not flat.get(key):
            flat.pop(key, None)  # an empty repeatable option: the section's default
    own = bool(opts.get("app") or opts.get("host"))
    if own:
        flat["targets"] = tuple(opts.get("targets") or ())
    if opts.get("app"):
        flat.setdefault("scenarios", ("routes",))
        flat["app_dir"] = opts.get("app_dir") or Path.cwd()
    flat.update(app_environment(opts))
    flat["name"] = opts.get("name") or default_name or ("profile" if profile else "run")
    if profile:
        flat["profile"] = True
    flat["pinning"] = pinning(
        opts.get("server_cpus"), opts.get("generator_cpus"), bool(opts.get("no_pin"))
    )
    if flat.get("database_url"):
        flat["database"] = "postgres"
    if "master_bind" in flat:
        flat["master_bind"] = parse_host_port(str(flat["master_bind"]), "--master-bind")
    for key in ("no_pin", "server_cpus", "generator_cpus"):
        flat.pop(key, None)
    return RunConfig.build(**flat)
