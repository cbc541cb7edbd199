"""One module per ``voxray`` subcommand: each has ``add_parser(subparsers)`` and ``run``.

A command's ``run(args, console) -> int`` returns the exit code; invalid input raises
:class:`~voxray.actors.errors.ConfigError`, which the CLI prints as one line and exits 2.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK"]
