"""``voxray examples``: list the example suites that ship with voxray, or copy them to edit."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from voxray.commands import EXIT_OK
from voxray.examples import (
    AGENTS_DIR,
    RULES_DIR,
    SUITES_DIR,
    copy_examples,
    suite_description,
    suite_names,
)

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray examples``."""
    examples = commands.add_parser(
        "examples",
        help="list the packaged example suites (run one with `voxray eval NAME`)",
        description="List the example suites that ship with voxray. Run one by name "
        "(`voxray eval smoke`) or copy them into a folder to edit (`--copy DIR`).",
    )
    examples.add_argument(
        "--copy",
        type=Path,
        metavar="DIR",
        help="copy the example suites (and their audio) into DIR, agent files into DIR/agents, "
        "rules files into DIR/sim; files already there are kept",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    """List or copy; returns the exit code."""
    if args.copy is not None:
        return _copy(args.copy, console)
    names = suite_names()
    width = max(map(len, names), default=0)
    console.print(f"Example suites (in {SUITES_DIR}):", highlight=False, soft_wrap=True)
    for name in names:
        description = suite_description(SUITES_DIR / f"{name}.yaml")
        console.print(f"  {name:<{width}}  {description}", highlight=False, soft_wrap=True)
    console.print(
        "Run one by name: voxray eval smoke — copy them to edit: voxray examples --copy DIR",
        highlight=False,
        soft_wrap=True,
    )
    for title, folder in (
        ("Agent files for `voxray serve PATH`", AGENTS_DIR),
        ("Rules files for `voxray sim --rules PATH`", RULES_DIR),
    ):
        files = sorted(path.name for path in folder.glob("*.yaml"))
        if files:
            console.print(
                f"{title} (in {folder}): {', '.join(files)}", highlight=False, soft_wrap=True
            )
    return EXIT_OK


def _copy(destination: Path, console: Console) -> int:
    copied, kept = copy_examples(destination)
    note = f" (kept {len(kept)} already there)" if kept else ""
    console.print(
        f"copied {len(copied)} file(s) to {destination}{note}; "
        f"run one with: voxray eval {destination / 'smoke.yaml'}",
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_OK
