"""The ``ab`` command: a thin click layer over ``harness.segments.ab`` and ``reports.compare``.

The measurement (``harness/segments/ab/run.py``) asks ``_decided`` after each pair: that
is statistics only (``reports.compare.compare_loaded`` over the rows so far). The report
and the comparison files are written once, after the measurement.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import click

from harness.cli.compare import finish_gate, gate_endpoints, gate_options
from harness.cli.configure import config_from_options
from harness.cli.options import OUTPUT, PINNING, SERVING, SUBJECT, use_options
from harness.cli.paramtypes import DURATION, choice
from harness.config import TARGETS
from harness.segments.ab.stopping import MAX_PAIRS, MAX_TIME_S

# each segment: 0.5 s to settle (users start, connections open), then --segment (3 s)
# measured, on both sides at once. Two users a side: the server CPU is still nearly
# saturated (both sides share it), yet requests hardly queue, so p50 and p99 are the
# requests' own; at 16 a side, p50 was queueing behind the GIL and its pairs spread
# 14% against 2.8% at 2 (README, "ab"). One worker process a side: with two,
# gunicorn handed a segment's new connections to one worker or split them over both,
# as it happened, and a side split over two processes took more of the shared CPU: an
# A/A of a 13-route app spread 11% a pair (goodput) on two workers, 1.4% on one.
SEGMENT_DEFAULTS = {"warmup": "0.5s", "users": 2, "workers": 1}
ab_options = use_options(
    *SUBJECT,
    *SERVING,
    "users",
    "warmup",
    *PINNING,
    *OUTPUT,
    **SEGMENT_DEFAULTS,
)


def _decided(rows: list[dict[str, Any]], fail_on: str, endpoints: tuple[str, ...] = ()) -> bool:
    """Whether ab can stop: a gated metric regressed (the gate fails whatever more pairs
    say), or no undecided gated metric is left that more pairs could decide (one whose
    reason is in the measurement itself: thin, generator-bound, dropped, verify)."""
    comparison = _compare_rows(rows, fail_on, endpoints)
    if comparison.violations:
        return True
    return not any(not f.reasons for f in comparison.undecided)


def _what_decides(comparison: Any, users: int, max_time: float) -> str:
    """What would decide an undecided ab: when every endpoint merged is decided and only
    single endpoints are not (an app of many routes gives each a few requests a segment),
    gating the merged figures; else more pairs or more requests a segment."""
    from reports.comparison import endpoint_label
    from runfolder.figures import ALL

    more = f"give it more pairs (--max-time, now {max_time:g}s) or more requests a segment "
    more += f"(--users, now {users} a side)"
    if comparison.gate_endpoints:
        return more
    merged = [f for f in comparison.undecided if f.endpoint == endpoint_label(ALL)]
    if merged or not comparison.undecided:
        return more
    routes = len({f.endpoint for f in comparison.undecided})
    return (
        f"all endpoints merged are decided, {routes} single endpoint(s) are not (few requests "
        "each a segment): gate on the merged figures with --gate-endpoint all, or " + more
    )


def _compare_rows(rows: list[dict[str, Any]], fail_on: str, endpoints: tuple[str, ...]) -> Any:
    from reports.compare import compare_loaded
    from reports.gate import parse_fail_on
    from runfolder.reader import Run

    sides = [
        Run(path=Path(side), meta={}, rows=[r for r in rows if r.get("side") == side])
        for side in ("baseline", "candidate")
    ]
    return compare_loaded(sides[0], [sides[1]], parse_fail_on(fail_on), gate_endpoints=endpoints)


@click.command("ab")
@ab_options
@click.option(
    "--segment",
    type=DURATION,
    default="3s",
    show_default=True,
    help="Measured seconds of each segment (whole seconds; one segment per side per pair).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed of the randomized order inside the pairs (default: a fresh one, in meta.json).",
)
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
    type=click.IntRange(1, 10_000),
    default=MAX_PAIRS,
    show_default=True,
    help="At most this many pairs (one segment per side each).",
)
@click.option(
    "--max-time",
    type=DURATION,
    default=f"{MAX_TIME_S:g}s",
    show_default=True,
    help="Stop before a pair would end after this long, counted from the command's start "
    "(servers included).",
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
    segment: float,
    seed: int | None,
    max_repeat: int,
    max_time: float,
    fail_on: str | None,
    gate_endpoint: tuple[str, ...],
    allow_undecided: bool,
    markdown_path: Path | None,
    json_path: Path | None,
    **opts: Any,
) -> None:
    """Baseline and candidate on servers that stay up, in pairs of short segments (the
    order in each pair random) until every gated metric is decided.

    Sides: two reference targets (--baseline-target sync --candidate-target cached), two
    folders of your app (--app mod:app --baseline-dir X --candidate-dir Y), or two git
    revisions (--app mod:app --baseline-rev main --candidate-rev HEAD). Each segment is
    closed-model load from --users users: --warmup to settle, --segment measured. One run
    folder holds both sides and comparison.html/.json/.md; exit codes as 'compare
    --fail-on' (default gate: rps:-5%,p50:+5%,p99:+10%,cpu:+5%)."""
    import math

    import psutil

    from harness.cli.console import console, derive_outputs
    from harness.run.engine import Progress
    from harness.segments.ab.plan import (
        SideSpec,
        repository_root,
        revision_checkouts,
        sides_from_options,
    )
    from harness.segments.ab.run import AbPlan, run_ab
    from harness.segments.ab.schedule import new_seed
    from harness.segments.ab.stopping import StoppingRule
    from harness.segments.sides import StepTimes
    from reports.compare import attach_profile_diffs, compare_loaded
    from reports.comparison import split_sides
    from reports.gate import DEFAULT_FAIL_ON, parse_fail_on
    from reports.render import write_outputs
    from reports.render.html import write_html
    from runfolder.errors import ConfigError
    from runfolder.reader import load_run

    started = psutil.Process().create_time()  # --max-time counts from the command's start
    fail_on = fail_on or DEFAULT_FAIL_ON
    thresholds = parse_fail_on(fail_on)
    endpoints = gate_endpoints(gate_endpoint)
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
    if segment < 1:
        raise ConfigError(f"--segment must be at least 1s, got {segment:g}s")
    if kind == "targets":
        opts["targets"] = (baseline_target,)
    from reports.comparison import MIN_REPS

    rule = StoppingRule(min(MIN_REPS, max_repeat), max_repeat, max_time)
    if max_repeat < MIN_REPS:
        click.echo(
            f"warning: --max-repeat {max_repeat} is below the {MIN_REPS} pairs a verdict "
            "needs: the gate will say undecided",
            err=True,
        )
    profile = bool(opts.pop("profile"))
    opts["duration"] = float(math.ceil(segment))
    with contextlib.ExitStack() as stack:
        if kind == "targets":
            specs = (
                SideSpec("baseline", target=baseline_target),
                SideSpec("candidate", target=candidate_target),
            )
        elif kind == "dirs":
            specs = (
                SideSpec("baseline", app_dir=Path(str(baseline_dir)).resolve()),
                SideSpec("candidate", app_dir=Path(str(candidate_dir)).resolve()),
            )
            opts["app_dir"] = specs[0].app_dir
        else:
            where = Path(opts.get("app_dir") or Path.cwd()).resolve()
            root = repository_root(repo.resolve() if repo else where)
            sub = where.relative_to(root) if where.is_relative_to(root) else Path()
            revs = {"baseline": str(baseline_rev), "candidate": str(candidate_rev)}
            trees = stack.enter_context(revision_checkouts(root, revs))
            specs = (
                SideSpec("baseline", app_dir=trees["baseline"] / sub, rev=revs["baseline"]),
                SideSpec("candidate", app_dir=trees["candidate"] / sub, rev=revs["candidate"]),
            )
            opts["app_dir"] = specs[0].app_dir
        cfg = config_from_options(opts, profile=profile, default_name="ab")
        plan = AbPlan(
            specs[0],
            specs[1],
            rule,
            seed if seed is not None else new_seed(),
            StepTimes(cfg.load.warmup, cfg.load.duration),
            started,
        )
        outcome = run_ab(
            cfg,
            plan,
            lambda rows: _decided(rows, fail_on, endpoints),
            Progress(message=lambda text: console.print(text, highlight=False)),
            lambda run_dir, _profiled: derive_outputs(run_dir, profile),
        )
    run = load_run(outcome.run_dir)
    base, cand = split_sides(run)
    comparison = compare_loaded(base, [cand], thresholds, gate_endpoints=endpoints)
    attach_profile_diffs(comparison)
    comparison.html_path = write_html(
        comparison, outcome.run_dir, outcome.run_dir / "comparison.html"
    )
    write_outputs(
        comparison,
        outcome.run_dir / "comparison.md",
        outcome.run_dir / "comparison.json",
        allow_undecided,
    )
    pairs = len({r["repetition"] for r in base.rows})
    click.echo(
        f"ab: {pairs} pair(s) in {time.time() - started:.0f}s ({run.meta.get('ab_stopped')})"
    )
    click.echo(f"Run folder: {outcome.run_dir}")
    finish_gate(
        comparison,
        markdown_path,
        json_path,
        allow_undecided,
        more=_what_decides(comparison, cfg.load.users, max_time),
    )
