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


_LONG = {
    "density": "about 10 minutes",
    "density-binary": "about 10 minutes",
    "client": "about 12 minutes",
}


def _epilog() -> str:
    # The registry itself (the CLI builds this parser only for `voxray bench`, which loads the
    # benchmarks anyway), so the list cannot drift from what runs.
    from voxray.bench.registry import BENCHMARKS, _load_all

    _load_all()
    width = max(map(len, BENCHMARKS))
    lines = ["benchmarks:"]
    for name in sorted(BENCHMARKS):
        long = f" ({_LONG[name]})" if name in _LONG else ""
        lines.append(f"  {name:<{width}}  {BENCHMARKS[name].description}{long}")
    lines += [
        "",
        "With no NAME every benchmark runs, the ten-minute density bench included: name the",
        "ones you want, e.g. `voxray bench audio tools`.",
    ]
    return "\n".join(lines)


def add_parser(commands: Any) -> None:
    """Register ``voxray bench``."""
    bench = commands.add_parser(
        "bench",
        help="run benchmarks; print a table of figures",
        description="Run voxray's benchmarks and print a table of figures per benchmark.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="benchmarks to run (listed below; default: every one, density included)",
    )
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
