"""``ab``: baseline and candidate measured interleaved (A B A B ...) until decided.

One run folder holds both sides: every cell is measured once per side per repetition,
its rows labelled ``side`` ("baseline" / "candidate"). After each repetition from
``min_repeat`` on, ``decided`` (the CLI hands in the comparison) says whether every gated
metric has a verdict, or none left undecided could be decided by more repetitions (its
reason is in the measurement itself: a thin percentile, a generator-bound row ...); the
loop also stops at ``max_repeat`` or when another repetition
would pass ``max_time``. The sides are two reference targets, two folders of the user's
app, or two git revisions of the user's repository checked out in temporary worktrees
that are removed afterwards, also on Ctrl-C or a crash.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.cells import Cell, plan_cells
from harness.config import RunConfig
from harness.run.engine import Plan, Work
from runfolder.errors import ConfigError
from runfolder.writer import RunWriter

SIDES = ("baseline", "candidate")
GIT_TIMEOUT_S = 120.0

Decided = Callable[[list[dict[str, Any]]], bool]


@dataclass(frozen=True)
class Side:
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


def side_config(cfg: RunConfig, side: Side) -> RunConfig:
    if side.app_dir is None:
        return cfg
    return replace(cfg, subject=replace(cfg.subject, app_dir=side.app_dir))


def side_cell(cell: Cell, side: Side) -> Cell:
    return replace(
        cell, target=side.target or cell.target, suffix=f"{cell.suffix}-{side.name}", side=side.name
    )


def plan_ab(
    cfg: RunConfig,
    baseline: Side,
    candidate: Side,
    *,
    decided: Decided,
    min_repeat: int,
    max_repeat: int,
    max_time: float,
) -> Plan:
    """The engine's plan: pairs of cells, A B A B, stopping once ``decided``."""
    if not 1 <= min_repeat <= max_repeat:
        raise ConfigError(f"--max-repeat must be at least {min_repeat}, got {max_repeat}")
    if max_time <= 0:
        raise ConfigError("--max-time must be > 0")
    pairs = [(side_cell(c, baseline), side_cell(c, candidate)) for c in plan_cells(cfg)]
    configs = {s.name: side_config(cfg, s) for s in (baseline, candidate)}

    def schedule(writer: RunWriter) -> Work:
        start = time.monotonic()
        for rep in range(max_repeat):
            for a, b in pairs:
                yield configs[a.side], a, rep
                yield configs[b.side], b, rep
            done = rep + 1
            if done >= min_repeat and decided(writer.rows):
                writer.update_meta(ab_stopped=f"nothing left to decide after {done} repetition(s)")
                return
            elapsed = time.monotonic() - start
            if elapsed + elapsed / done > max_time:
                writer.update_meta(ab_stopped=f"--max-time reached after {done} repetition(s)")
                return
        writer.update_meta(ab_stopped=f"--max-repeat {max_repeat} reached")

    cells = [c for pair in pairs for c in pair]
    meta = {
        "ab": {
            "baseline": baseline.describe(),
            "candidate": candidate.describe(),
            "min_repeat": min_repeat,
            "max_repeat": max_repeat,
            "max_time_s": max_time,
        }
    }
    return Plan(cells, schedule, planned=len(cells) * max_repeat, meta=meta)


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
