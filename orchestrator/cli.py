"""The ``voxray`` command line: ``eval``, ``bench``, ``sim``; one module per command.

Every command prints a one-line error and exits 2 on invalid input.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rich.console import Console
from voxray.actors.errors import ConfigError
from voxray.commands import (
    EXIT_INVALID,
    bench,
    calls,
    compare,
    drain,
    evaluate,
    examples,
    serve,
    sim,
    status,
)

__all__ = ["main"]

# Each module registers its subparser and runs it; add a command by adding a module here.
COMMANDS = {
    "eval": evaluate,
    "examples": examples,
    "bench": bench,
    "compare": compare,
    "sim": sim,
    "status": status,
    "drain": drain,
    "serve": serve,
    "calls": calls,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxray", description="Run many xAI Grok realtime voice conversations on Ray."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``voxray`` console script."""
    args = _parser().parse_args(argv)
    console = Console()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(COMMANDS[args.command].run(args, console))
    except ConfigError as error:
        console.print(f"[red]error:[/red] {error.message}", highlight=False, soft_wrap=True)
        return EXIT_INVALID
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
