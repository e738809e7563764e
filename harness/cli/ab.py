"""The ``ab`` command: a thin click layer over ``harness.segments.ab`` and ``reports.compare``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from harness.cli.compare import finish_gate, gate_options
from harness.cli.options import DURATION, choice, config_from_options, run_options
from harness.config import TARGETS
from reports.comparison import MIN_REPS


def _more_helps(rows: list[dict[str, Any]], fail_on: str) -> bool:
    """Whether another repetition could decide something: an undecided gated metric without
    a reason in the measurement itself (thin, generator-bound, dropped, verify) remains."""
    undecided = _compare_rows(rows, fail_on).undecided
    return any(not f.reasons for f in undecided)


def _compare_rows(rows: list[dict[str, Any]], fail_on: str) -> Any:
    from reports.compare import compare_loaded
    from reports.gate import parse_fail_on
    from runfolder.reader import Run

    sides = [
        Run(path=Path(side), meta={}, rows=[r for r in rows if r.get("side") == side])
        for side in ("baseline", "candidate")
    ]
    return compare_loaded(sides[0], [sides[1]], parse_fail_on(fail_on))


@click.command("ab")
@run_options
@click.option(
    "--profile",
    is_flag=True,
    help="Profile a sample of requests on both sides: the "
    "comparison then names the functions whose time per request changed most.",
)
@click.option(
    "--profile-rate",
    type=float,
    default=0.05,
    show_default=True,
    help="Fraction of requests profiled per endpoint.",
)
@click.option("--baseline-target", type=choice(TARGETS), default=None, help="Reference target A.")
@click.option("--candidate-target", type=choice(TARGETS), default=None, help="Reference target B.")
@click.option(
    "--baseline-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of --app's baseline version.",
)
@click.option(
    "--candidate-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of --app's candidate version.",
)
@click.option("--baseline-rev", default=None, help="Git revision of the baseline (e.g. main).")
@click.option("--candidate-rev", default=None, help="Git revision of the candidate (e.g. HEAD).")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Repository of the revisions. Default: the one holding --app-dir or the "
    "current folder; --app-dir is taken relative to it inside each revision.",
)
@click.option(
    "--max-repeat",
    type=click.IntRange(1, 1000),
    default=12,
    show_default=True,
    help="At most this many repetitions per side.",
)
@click.option(
    "--max-time",
    type=DURATION,
    default="30m",
    show_default=True,
    help="Stop before a repetition would end after this long.",
)
@gate_options
def ab_command(
    baseline_target: str | None,
    candidate_target: str | None,
    baseline_dir: Path | None,
    candidate_dir: Path | None,
    baseline_rev: str | None,
    candidate_rev: str | None,
    repo: Path | None,
    max_repeat: int,
    max_time: float,
    fail_on: str | None,
    allow_undecided: bool,
    markdown_path: Path | None,
    json_path: Path | None,
    **opts: Any,
) -> None:
    """Baseline and candidate interleaved (A B A B ...) until every gated metric is decided.

    Sides: two reference targets (--baseline-target sync --candidate-target cached), two
    folders of your app (--app mod:app --baseline-dir X --candidate-dir Y), or two git
    revisions (--app mod:app --baseline-rev main --candidate-rev HEAD). One run folder
    holds both sides and comparison.html/.json/.md; exit codes as 'compare --fail-on'
    (default gate: rps:-5%,p50:+5%,p99:+10%,cpu:+5%)."""
    from harness.cli.console import derive_outputs, run_with_progress
    from harness.segments.ab.plan import (
        Side,
        plan_ab,
        repository_root,
        revision_checkouts,
        sides_from_options,
    )
    from reports.compare import attach_profile_diffs, compare_loaded
    from reports.comparison import split_sides
    from reports.gate import DEFAULT_FAIL_ON, parse_fail_on
    from reports.render.html import write_html
    from runfolder.errors import ConfigError
    from runfolder.reader import load_run

    fail_on = fail_on or DEFAULT_FAIL_ON
    thresholds = parse_fail_on(fail_on)
    kind = sides_from_options(
        (baseline_target, candidate_target),
        (baseline_dir, candidate_dir),
        (baseline_rev, candidate_rev),
        opts.get("app"),
    )
    if opts.get("host"):
        raise ConfigError("ab starts both sides itself: --host cannot be used with it")
    if kind == "targets" and opts.get("targets"):
        raise ConfigError("ab: --target cannot be combined with --baseline-target")
    if kind == "targets":
        opts["targets"] = (baseline_target,)
    profile = bool(opts.pop("profile"))
    min_repeat = min(max(int(opts.get("repeat") or 1), MIN_REPS), max_repeat)
    with contextlib.ExitStack() as stack:
        if kind == "targets":
            sides = [
                Side("baseline", target=baseline_target),
                Side("candidate", target=candidate_target),
            ]
        elif kind == "dirs":
            sides = [
                Side("baseline", app_dir=Path(str(baseline_dir)).resolve()),
                Side("candidate", app_dir=Path(str(candidate_dir)).resolve()),
            ]
            opts["app_dir"] = sides[0].app_dir
        else:
            where = Path(opts.get("app_dir") or Path.cwd()).resolve()
            root = repository_root(repo.resolve() if repo else where)
            sub = where.relative_to(root) if where.is_relative_to(root) else Path()
            revs = {"baseline": str(baseline_rev), "candidate": str(candidate_rev)}
            trees = stack.enter_context(revision_checkouts(root, revs))
            sides = [Side(s, app_dir=trees[s] / sub, rev=revs[s]) for s in revs]
            opts["app_dir"] = sides[0].app_dir
        cfg = config_from_options(opts, profile=profile, default_name="ab")
        plan = plan_ab(
            cfg,
            sides[0],
            sides[1],
            min_repeat=min_repeat,
            max_repeat=max_repeat,
            max_time=max_time,
            decided=lambda rows: not _more_helps(rows, fail_on),
        )
        outcome = run_with_progress(cfg, derive_outputs, plan)
    base, cand = split_sides(load_run(outcome.run_dir))
    comparison = compare_loaded(base, [cand], thresholds)
    attach_profile_diffs(comparison)
    comparison.html_path = write_html(
        comparison, outcome.run_dir, outcome.run_dir / "comparison.html"
    )
    from reports.render import write_outputs

    write_outputs(
        comparison,
        outcome.run_dir / "comparison.md",
        outcome.run_dir / "comparison.json",
        allow_undecided,
    )
    reps = max(len(base.cell_rows(c)) for c in base.cell_ids())
    stopped = load_run(outcome.run_dir).meta.get("ab_stopped")
    click.echo(f"ab: {reps} repetition(s) per side ({stopped})")
    click.echo(f"Run folder: {outcome.run_dir}")
    finish_gate(comparison, markdown_path, json_path, allow_undecided)
