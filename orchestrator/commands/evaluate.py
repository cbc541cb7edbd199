"""``voxray eval SUITE``: run an evaluation suite and report it — a printer over ``Fleet``.

Prints the plan (and, on the real backend, a cost estimate), one line per run as it ends under
a progress bar, a table of runs (and one per scenario with repeats), a summary line with the
cost, and where ``report.html`` is. The job itself (results, summary, JUnit, report, resume)
is :meth:`voxray.Fleet.submit`'s.

SIGTERM or Ctrl-C drains the job (nothing new starts, live runs get the drain deadline); a
second one stops it at once. Either way the outputs are written and the runs that did not
finish are listed for ``--resume``.

Exit codes: 0 when every scenario passed and every run finished, 1 otherwise, 2 on invalid
input (a malformed suite, a missing file, a bad option, a run directory in use) — always with a
one-line reason.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from voxray.actors.errors import ConfigError, RunDirectoryBusyError, VoxrayError
from voxray.commands import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from voxray.commands.compare import add_gate_options, gate_from_options
from voxray.commands.replay import add_cassette_options, with_cassette_options
from voxray.evals.compare_view import comparison_notes, comparison_table
from voxray.evals.condition_view import condition_table
from voxray.evals.cost import COST_PER_AUDIO_MINUTE_USD
from voxray.evals.outputs import RunDirectory
from voxray.evals.records import ScenarioRecord
from voxray.evals.tables import results_table, scenario_table, summary_line, verdict_markup
from voxray.settings import VoxraySettings

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray eval``."""
    run = commands.add_parser("eval", help="run an evaluation suite")
    run.add_argument(
        "suite", type=Path, help="a suite YAML file, or a packaged example (voxray examples)"
    )
    run.add_argument(
        "--backend", choices=["sim", "xai", "replay"], help="override the suite's backend"
    )
    run.add_argument("--concurrency", type=int, help="scenarios run at once")
    run.add_argument("--repeat", type=int, help="runs of each scenario")
    run.add_argument("--filter", help="only scenarios whose name matches (glob or substring)")
    run.add_argument(
        "--out", type=Path, help="run directory (default: <output_dir>/<suite>-<time>)"
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="in --out, rerun only the runs that did not finish (not run, interrupted, lost)",
    )
    run.add_argument("--address", help="Ray cluster to join, e.g. 'auto'; default: embedded Ray")
    run.add_argument("--speed", type=float, help="simulator pacing (1 = real time)")
    run.add_argument(
        "--conditions",
        help="run every scenario under each caller condition, e.g. clean,phone,noisy-cafe "
        "(presets or the suite's own; replaces the suite's matrix)",
    )
    run.add_argument(
        "--baseline",
        type=Path,
        help="a run directory to gate against: exit 1 when a scenario regressed "
        "(pass rate dropped significantly, latency p95 grew past the tolerance)",
    )
    add_gate_options(run)
    add_cassette_options(run)
    run.add_argument("-v", "--verbose", action="store_true", help="show actor logs")


def run(args: argparse.Namespace, console: Console) -> int:
    """Run the suite; returns the exit code."""
    from voxray.client import Fleet
    from voxray.cluster import describe_address, joins_existing_cluster
    from voxray.evals.cassettes import CassettePlan
    from voxray.evals.job import plan_job

    gate = gate_from_options(args)
    conditions = [name.strip() for name in (args.conditions or "").split(",") if name.strip()]
    if args.conditions is not None and not conditions:
        raise ConfigError("--conditions needs at least one condition name, e.g. clean,phone")
    settings = with_cassette_options(VoxraySettings(), args)
    plan = plan_job(
        args.suite,
        settings,
        out=args.out,
        filter=args.filter,
        backend=args.backend,
        concurrency=args.concurrency,
        repeat=args.repeat,
        resume=args.resume,
        speed=args.speed,
        conditions=conditions or None,
        baseline=args.baseline,
        gate=gate,
    )
    suite = plan.suite
    address = args.address or settings.ray_address
    where = (
        f"the Ray cluster at {address or os.environ.get('RAY_ADDRESS')}"
        if joins_existing_cluster(address)
        else "embedded Ray"
    )
    _print(
        console,
        f"voxray eval: [bold]{suite.name}[/bold] — {len(plan.runs)} run(s) of "
        f"{plan.scenarios} scenario(s), backend {suite.backend}, concurrency "
        f"{suite.concurrency}, on {where}",
    )
    if plan.resume:
        _print(
            console,
            f"resuming: {plan.already_finished} run(s) already finished in {plan.run_path}",
        )
    if suite.backend == "xai":
        _print(
            console,
            f"cost estimate: {plan.cost.describe()} at ${COST_PER_AUDIO_MINUTE_USD:.2f} per "
            f"audio minute — {plan.cost.assumption}",
        )
    plan.check_credentials()  # no key: a one-line error now, before Ray starts
    # Replay: a run without its cassette is a one-line error now too.
    CassettePlan.for_job(suite, plan.settings, plan.run_path).check(
        [r.key for r in plan.runs], calls=[r.key for r in plan.runs if r.spec.caller is not None]
    )
    # Another run writing --out: said before Ray starts (the job holds the lock once it runs).
    if plan.run_path.exists():
        try:
            with RunDirectory(plan.run_path).lock():
                pass
        except RunDirectoryBusyError as error:
            console.print(f"[red]error:[/red] {error.message}", highlight=False, soft_wrap=True)
            return EXIT_INVALID

    with Fleet.connect(address, settings=plan.settings, log_to_driver=args.verbose) as fleet:
        _print(console, f"Ray: {describe_address()}")
        try:
            job = fleet.submit(plan)
        except RunDirectoryBusyError as error:
            console.print(f"[red]error:[/red] {error.message}", highlight=False, soft_wrap=True)
            return EXIT_INVALID
        with _signals_stop(job, console):
            try:
                _follow(job, console)
                result = job.wait()
            except VoxrayError as error:  # the job could not run (e.g. no simulator)
                _print(console, f"[red]error:[/red] {error}")
                _print(console, f"what was recorded is in {plan.run_path}")
                return EXIT_FAILED

    if result.records:
        console.print(results_table(result.records))
    summary = result.summary
    if suite.repeat > 1 and summary.per_scenario:
        console.print(scenario_table(summary))
    by_condition = condition_table(summary)
    if by_condition is not None:
        console.print(by_condition)
    _print(
        console,
        summary_line(
            result.all_records,
            summary.wall_s or 0.0,
            result.run_dir,
            pass_threshold=suite.pass_threshold,
            backend=suite.backend,
        ),
    )
    _print(console, f"report: {result.report}")
    if result.comparison is not None:
        console.print(comparison_table(result.comparison))
        for line in comparison_notes(result.comparison):
            _print(console, f"  {line}")
        regressions = result.comparison.regressions
        if regressions:
            _print(
                console,
                f"[red]{len(regressions)} regression(s) against {args.baseline}[/red]: "
                + "; ".join(f"{cell.name}: {', '.join(cell.reasons())}" for cell in regressions),
            )
        else:
            _print(console, f"[green]no regression against {args.baseline}[/green]")
    if summary.runs_unfinished:
        # Not a failure of any scenario, but not a pass either: they were never judged.
        _print(
            console,
            f"[yellow]{summary.runs_unfinished} run(s) did not finish[/yellow]; "
            f"`voxray eval {args.suite} --resume --out {result.run_dir}` runs them",
        )
    return EXIT_OK if result.passed else EXIT_FAILED


def _print(console: Console, text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True)


def _follow(job: Any, console: Console) -> None:
    """One line per run as it ends, under a progress bar."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("running scenarios", total=job.total)
        record: ScenarioRecord
        for record in job:
            progress.console.print(f"{verdict_markup(record)} {record.key}", highlight=False)
            progress.advance(task)


@contextlib.contextmanager
def _signals_stop(job: Any, console: Console) -> Iterator[None]:
    """SIGTERM or SIGINT: the first drains ``job``, the second cancels it; the outputs are
    written either way (the handlers never raise into the waiting thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    received = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        if received == 1:
            console.print(
                "[yellow]draining: no new runs; live ones get the drain deadline "
                "(again to stop now)[/yellow]",
                highlight=False,
            )
            job.drain()
        elif received == 2:
            console.print("[yellow]stopping now; writing the outputs[/yellow]", highlight=False)
            job.cancel()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
