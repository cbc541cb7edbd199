"""``voxray eval SUITE``: run an evaluation suite and report it.

Prints the plan (and, on the real backend, a cost estimate), one line per finished run under a
progress bar, a table of runs (and one per scenario with repeats), a summary line with the cost,
and where ``report.html`` is. Exit codes: 0 when every scenario passed, 1 when any failed, 2 on
invalid input (a malformed suite, a missing file, a bad option) — always with a one-line reason.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from voxray.actors.errors import ConfigError
from voxray.commands import EXIT_FAILED, EXIT_OK
from voxray.evals.cost import COST_PER_AUDIO_MINUTE_USD, estimate_cost
from voxray.evals.outputs import RunDirectory
from voxray.evals.records import ScenarioRecord
from voxray.evals.report import write_report
from voxray.evals.suite import Suite, load_suite, select, with_overrides
from voxray.evals.summary import summarize
from voxray.evals.tables import results_table, scenario_table, summary_line
from voxray.settings import VoxraySettings

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray eval``."""
    run = commands.add_parser("eval", help="run an evaluation suite")
    run.add_argument("suite", type=Path, help="suite YAML, e.g. configs/evals/smoke.yaml")
    run.add_argument("--backend", choices=["sim", "xai"], help="override the suite's backend")
    run.add_argument("--concurrency", type=int, help="scenarios run at once")
    run.add_argument("--repeat", type=int, help="runs of each scenario")
    run.add_argument("--filter", help="only scenarios whose name matches (glob or substring)")
    run.add_argument(
        "--out", type=Path, help="run directory (default: <output_dir>/<suite>-<time>)"
    )
    run.add_argument("--resume", action="store_true", help="skip runs already in --out")
    run.add_argument("--address", help="Ray cluster to join, e.g. 'auto'; default: embedded Ray")
    run.add_argument("--speed", type=float, help="simulator pacing (1 = real time)")
    run.add_argument("-v", "--verbose", action="store_true", help="show actor logs")


def _run_dir(suite: Suite, out: Path | None, resume: bool) -> Path:
    if out is not None:
        return out
    if resume:
        raise ConfigError("--resume needs --out <run directory> to resume")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return suite.output_dir / f"{suite.name}-{stamp}"


def run(args: argparse.Namespace, console: Console) -> int:
    """Run the suite; returns the exit code."""
    from voxray.cluster import connect_ray, disconnect_ray, joins_existing_cluster
    from voxray.evals.runner import plan_jobs, run_suite

    settings = VoxraySettings()
    if args.speed is not None:
        if args.speed <= 0:
            raise ConfigError("--speed must be > 0")
        settings = settings.model_copy(update={"sim_speed": args.speed})
    suite = with_overrides(
        load_suite(args.suite),
        backend=args.backend,
        concurrency=args.concurrency,
        repeat=args.repeat,
    )
    specs = select(suite, args.filter)
    if not specs:
        raise ConfigError(f"no scenario of {args.suite} matches --filter {args.filter!r}")
    run_dir = RunDirectory(_run_dir(suite, args.out, args.resume))
    done = run_dir.completed_keys() if args.resume else set()
    jobs = plan_jobs(suite, specs, done)
    address = args.address or settings.ray_address
    where = (
        f"the Ray cluster at {address or os.environ.get('RAY_ADDRESS')}"
        if joins_existing_cluster(address)
        else "embedded Ray"
    )
    console.print(
        f"voxray eval: [bold]{suite.name}[/bold] — {len(jobs)} run(s) of {len(specs)} "
        f"scenario(s), backend {suite.backend}, concurrency {suite.concurrency}, on {where}",
        highlight=False,
        soft_wrap=True,
    )
    if done:
        console.print(
            f"resuming: {len(done)} run(s) already in {run_dir.path}",
            highlight=False,
            soft_wrap=True,
        )
    planned = estimate_cost([job.spec for job in jobs], 1)
    if suite.backend == "xai":
        console.print(
            f"cost estimate: {planned.describe()} at ${COST_PER_AUDIO_MINUTE_USD:.2f} per audio "
            f"minute — {planned.assumption}",
            highlight=False,
            soft_wrap=True,
        )
        settings.xai_endpoint()  # no key: a one-line error now, before Ray starts

    started = time.monotonic()
    owns_connection = connect_ray(
        address,
        namespace=settings.namespace,
        log_to_driver=args.verbose,
    )
    records: list[ScenarioRecord] = []
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("running scenarios", total=len(jobs))

            def finished(record: ScenarioRecord) -> None:
                mark = "[green]PASS[/green]" if record.passed else "[red]FAIL[/red]"
                progress.console.print(f"{mark} {record.key}", highlight=False)
                progress.advance(task)

            # SIGTERM drains the job (run_suite's handler); a second one stops it at once.
            records = asyncio.run(run_suite(suite, jobs, settings, run_dir, on_record=finished))
    finally:
        if owns_connection:
            disconnect_ray()
    wall_s = time.monotonic() - started
    if records:
        console.print(results_table(records))
    all_records = run_dir.load_records() if args.resume else records
    threshold = suite.pass_threshold
    summary = summarize(all_records, pass_threshold=threshold)
    if suite.repeat > 1 and all_records:
        console.print(scenario_table(summary))
    run_dir.write_summary(
        all_records, pass_threshold=threshold, wall_s=wall_s, planned_cost_usd=planned.usd
    )
    run_dir.write_junit(suite.name, all_records)
    report = write_report(
        run_dir,
        all_records,
        suite_name=suite.name,
        backend=suite.backend,
        pass_threshold=threshold,
        wall_s=wall_s,
        planned_cost_usd=planned.usd,
        descriptions={scenario.name: scenario.description for scenario in suite.scenarios},
    )
    console.print(
        summary_line(
            all_records, wall_s, run_dir.path, pass_threshold=threshold, backend=suite.backend
        ),
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"report: {report}", highlight=False, soft_wrap=True)
    unfinished = len(jobs) - len(records)
    if unfinished:
        # A drained or stopped run is not a pass: what did not finish was never judged.
        console.print(
            f"[yellow]{unfinished} run(s) did not finish[/yellow]; "
            f"`voxray eval {args.suite} --resume --out {run_dir.path}` runs them",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_FAILED
    return EXIT_OK if summary.all_passed and all_records else EXIT_FAILED
