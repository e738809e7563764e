"""``ab``'s two sides: what each one serves, and the cells that measure it.

The sides are two reference targets, two folders of the user's app, or two git revisions
of the user's repository checked out in temporary worktrees that are removed afterwards,
also on Ctrl-C or a crash. Each cell of the run is measured on both sides, as two cells
whose ids end in ``-baseline`` / ``-candidate`` and whose rows say ``side``; how they are
measured is ``run.py``, in which order ``schedule.py``, until when ``stopping.py``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.cells import Cell
from harness.config import RunConfig
from runfolder.errors import ConfigError

SIDES = ("baseline", "candidate")
GIT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class SideSpec:
    """What one side measures: a reference target or the user's app from a folder."""

    name: str
    target: str | None = None
    app_dir: Path | None = None
    rev: str | None = None  # the git revision app_dir was checked out from

    def describe(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "app_dir": str(self.app_dir) if self.app_dir else None,
            "rev": self.rev,
        }


def side_config(cfg: RunConfig, side: SideSpec) -> RunConfig:
    if side.app_dir is None:
        return cfg
    return replace(cfg, subject=replace(cfg.subject, app_dir=side.app_dir))


def side_cell(cell: Cell, side: SideSpec) -> Cell:
    return replace(
        cell, target=side.target or cell.target, suffix=f"{cell.suffix}-{side.name}", side=side.name
    )


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )


def repository_root(path: Path) -> Path:
    done = _git(path, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise ConfigError(
            f"--baseline-rev/--candidate-rev: {path} is not inside a git "
            "repository; run from your repository or pass --repo"
        )
    return Path(done.stdout.strip())


@contextlib.contextmanager
def revision_checkouts(repo: Path, revs: dict[str, str]) -> Iterator[dict[str, Path]]:
    """Each revision in a temporary ``git worktree``; all removed on the way out."""
    for side, rev in revs.items():
        if _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").returncode != 0:
            raise ConfigError(
                f"--{side}-rev: '{rev}' is not a commit of {repo}; check the name with 'git log'"
            )
    tmp = Path(tempfile.mkdtemp(prefix="flask-bench-ab-"))
    made: dict[str, Path] = {}
    try:
        for side, rev in revs.items():
            path = tmp / side
            done = _git(repo, "worktree", "add", "--detach", str(path), rev)
            if done.returncode != 0:
                raise ConfigError(
                    f"--{side}-rev: git worktree add failed: "
                    f"{done.stderr.strip().splitlines()[-1:]}"
                )
            made[side] = path
        yield made
    finally:
        for path in made.values():
            _git(repo, "worktree", "remove", "--force", str(path))
        _git(repo, "worktree", "prune")
        shutil.rmtree(tmp, ignore_errors=True)


def sides_from_options(
    targets: tuple[str | None, str | None],
    dirs: tuple[Path | None, Path | None],
    revs: tuple[str | None, str | None],
    app: str | None,
) -> str:
    """Which kind of pair was asked for: "targets", "dirs" or "revs" (one, both halves)."""
    kinds = {"targets": targets, "dirs": dirs, "revs": revs}
    given = [k for k, pair in kinds.items() if any(v is not None for v in pair)]
    flags = {
        "targets": "--baseline-target/--candidate-target",
        "dirs": "--baseline-dir/--candidate-dir",
        "revs": "--baseline-rev/--candidate-rev",
    }
    if len(given) != 1:
        raise ConfigError("ab needs one pair of sides: " + ", or ".join(flags.values()))
    kind = given[0]
    if any(v is None for v in kinds[kind]):
        raise ConfigError(f"ab: {flags[kind]} must both be given")
    if kind != "targets" and not app:
        raise ConfigError(f"ab: {flags[kind]} compare your app: give --app MODULE:OBJECT")
    if kind == "targets" and app:
        raise ConfigError("ab: --baseline-target/--candidate-target cannot be combined with --app")
    for d in dirs:
        if d is not None and not d.is_dir():
            raise ConfigError(f"ab: {d} is not a folder")
    return kind
