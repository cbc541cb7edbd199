"""``voxray compare RUN_A RUN_B``: what changed from a baseline run (A) to another (B).

Prints a table per scenario and condition (pass rates with 95 % Wilson intervals, the change
and its significance at the repeats run, latency p50/p95, newly failing checks, tool-call
differences) and writes ``compare.json`` and ``compare.html`` (default: into RUN_B). Exit
codes: 0 when nothing regressed, 1 when something did, 2 on invalid input.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from voxray.commands import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from voxray.evals.compare import RegressionGate

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray compare``."""
    compare = commands.add_parser("compare", help="compare two eval runs: regressions A → B")
    compare.add_argument("run_a", type=Path, help="the baseline run directory")
    compare.add_argument("run_b", type=Path, help="the run directory to judge against it")
    compare.add_argument("--out", type=Path, help="where compare.json/html go (default: RUN_B)")
    add_gate_options(compare)


def add_gate_options(parser: Any) -> None:
    """The regression thresholds (shared with ``voxray eval --baseline``)."""
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="significance level of a pass-rate drop (default 0.05)",
    )
    parser.add_argument(
        "--latency-tolerance",
        type=float,
        default=0.25,
        help="latency p95 growth that regresses, as a fraction (default 0.25 = 25%%)",
    )
    parser.add_argument(
        "--latency-floor-ms",
        type=float,
        default=50.0,
        help="... and by at least this many ms (default 50)",
    )


def gate_from_options(args: argparse.Namespace) -> RegressionGate:
    """The thresholds the options give (:class:`RegressionGate` refuses nonsense, naming the
    threshold)."""
    from voxray.evals.compare import RegressionGate

    return RegressionGate(args.alpha, args.latency_tolerance, args.latency_floor_ms)


def run(args: argparse.Namespace, console: Console) -> int:
    """Compare, print, write; returns the exit code."""
    from voxray.evals.compare import compare_runs, write_comparison
    from voxray.evals.compare_view import comparison_notes, comparison_table, write_compare_page

    gate = gate_from_options(args)
    comparison = compare_runs(
        args.run_a,
        args.run_b,
        alpha=gate.alpha,
        latency_tolerance=gate.latency_tolerance,
        latency_floor_ms=gate.latency_floor_ms,
    )
    out: Path = args.out or args.run_b
    out.mkdir(parents=True, exist_ok=True)
    console.print(comparison_table(comparison))
    for line in comparison_notes(comparison):
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    data = write_comparison(comparison, out)
    page = write_compare_page(comparison, out)
    regressions = comparison.regressions
    if regressions:
        console.print(
            f"[red]{len(regressions)} regression(s)[/red]: "
            + "; ".join(f"{cell.name}: {', '.join(cell.reasons())}" for cell in regressions),
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print("[green]no regression[/green]", highlight=False)
    console.print(f"compare: {data} · {page}", highlight=False, soft_wrap=True)
    return EXIT_FAILED if regressions else EXIT_OK
