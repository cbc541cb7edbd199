"""The ``voxray`` command line: ``eval``, ``examples``, ``bench``, ``sim``, ...; one module per
command, imported only when that command runs.

Every command prints a one-line error and exits 2 on invalid input.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Any

from voxray.commands import EXIT_INVALID

__all__ = ["main"]

# Command -> (its module, the one line `voxray --help` shows). A module has add_parser(subparsers)
# and run(args, console); add a command by adding a line here. Only the command being run is
# imported, so `voxray --help` and `voxray sim` do not pay for Ray, the report or the runner
# (tests/test_cli_help.py keeps these lines equal to the modules' own).
COMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("voxray.commands.evaluate", "run an evaluation suite"),
    "examples": (
        "voxray.commands.examples",
        "list the packaged example suites (run one with `voxray eval NAME`)",
    ),
    "bench": ("voxray.commands.bench", "run benchmarks; print a table of figures"),
    "compare": ("voxray.commands.compare", "compare two eval runs: regressions A → B"),
    "sim": ("voxray.commands.sim", "serve the xAI-compatible simulator"),
    "status": ("voxray.commands.status", "show nodes, sessions, warm pool, caps, queue"),
    "drain": ("voxray.commands.drain", "stop admission, finish live sessions, stop"),
    "serve": ("voxray.commands.serve", "host live agents for phone and browser callers"),
    "calls": ("voxray.commands.calls", "list the calls the gateway recorded"),
    "replay": ("voxray.commands.replay", "check recorded cassettes (age, readability)"),
}


def _module(command: str) -> Any:
    return importlib.import_module(COMMANDS[command][0])


def _parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser; the ``chosen`` command gets its full arguments, the others their help line."""
    parser = argparse.ArgumentParser(
        prog="voxray", description="Run many xAI Grok realtime voice conversations on Ray."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, summary) in COMMANDS.items():
        if name == chosen:
            _module(name).add_parser(commands)
        else:
            commands.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``voxray`` console script."""
    arguments = sys.argv[1:] if argv is None else argv
    chosen = arguments[0] if arguments and arguments[0] in COMMANDS else None
    args = _parser(chosen).parse_args(arguments)
    # After parsing: `--help` and a usage error need neither.
    from rich.console import Console
    from voxray.actors.errors import ConfigError

    console = Console()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(_module(args.command).run(args, console))
    except ConfigError as error:
        console.print(f"[red]error:[/red] {error.message}", highlight=False, soft_wrap=True)
        return EXIT_INVALID
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
