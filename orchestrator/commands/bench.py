"""``voxray bench [NAME ...] [--json PATH]``: run benchmarks and print their figures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from voxray.actors.errors import ConfigError
from voxray.commands import EXIT_OK

if TYPE_CHECKING:
    from voxray.bench.registry import BenchResult

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray bench``."""
    bench = commands.add_parser("bench", help="run benchmarks; print a table of figures")
    bench.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    bench.add_argument("--json", type=Path, dest="json_path", help="also write figures here")
    bench.add_argument("--quick", action="store_true", help="fewer iterations (a smoke check)")


def run(args: argparse.Namespace, console: Console) -> int:
    """Run the benchmarks; returns the exit code."""
    from voxray.bench.registry import run_benchmarks, write_json

    try:
        results = run_benchmarks(
            args.names, quick=args.quick, on_result=lambda result: _print_bench(console, result)
        )
    except KeyError as error:
        raise ConfigError(str(error.args[0])) from error
    if args.json_path is not None:
        write_json(results, args.json_path)
        console.print(f"figures written to {args.json_path}", highlight=False)
    return EXIT_OK


def _print_bench(console: Console, result: BenchResult) -> None:
    console.print(result.table())
    for note in result.notes:
        console.print(f"  note: {note}", highlight=False)
