"""``voxray replay check CASSETTES``: which cassettes are older than they should be.

A cassette records what the real service did on the day it was recorded; the service changes.
``check`` lists every cassette under the folders given (recursively) with its age, scenario and
model, and exits 1 when one is older than ``--max-age-days`` (default 30) or cannot be read, so
a CI job can remind the team to re-record (``voxray eval SUITE --backend xai --record DIR``
replaces the cassettes in place).

Also here: the ``--record`` / ``--cassettes`` options of ``voxray eval``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from voxray.actors.cassette.format import CASSETTE_FILE, CassetteError, CassetteMeta
from voxray.actors.errors import ConfigError
from voxray.commands import EXIT_FAILED, EXIT_OK
from voxray.settings import VoxraySettings

__all__ = [
    "CassetteAge",
    "add_cassette_options",
    "add_parser",
    "find_cassettes",
    "run",
    "with_cassette_options",
]

DEFAULT_MAX_AGE_DAYS = 30.0


def add_parser(commands: Any) -> None:
    """Register ``voxray replay``."""
    replay = commands.add_parser("replay", help="check recorded cassettes (age, readability)")
    actions = replay.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="list cassettes; exit 1 if one is too old")
    check.add_argument("cassettes", type=Path, nargs="+", help="cassette folders (searched)")
    check.add_argument(
        "--max-age-days",
        type=float,
        default=DEFAULT_MAX_AGE_DAYS,
        help=f"a cassette older than this is stale (default {DEFAULT_MAX_AGE_DAYS:g})",
    )


def add_cassette_options(parser: Any) -> None:
    """``voxray eval``'s ``--record [DIR]`` and ``--cassettes DIR``."""
    parser.add_argument(
        "--record",
        nargs="?",
        const="",
        metavar="DIR",
        help="record every run into a cassette: in <run dir>/cassettes/, or in DIR (a "
        "suite's cassettes folder: re-recorded in place)",
    )
    parser.add_argument(
        "--cassettes",
        metavar="DIR",
        help="with --backend replay: the cassettes to serve (a folder of <run key>/ "
        "cassettes, or a run directory recorded with --record)",
    )


def with_cassette_options(settings: VoxraySettings, args: argparse.Namespace) -> VoxraySettings:
    """``settings`` with ``--record``/``--cassettes`` applied."""
    record: str | None = getattr(args, "record", None)
    replay_dir: str | None = getattr(args, "cassettes", None)
    if record is None and replay_dir is None:
        return settings
    updates: dict[str, Any] = {}
    if record is not None:
        updates["record"] = True
        updates["record_dir"] = record or None
    if replay_dir is not None:
        if getattr(args, "backend", None) not in (None, "replay"):
            raise ConfigError("--cassettes goes with --backend replay")
        updates["replay_dir"] = replay_dir
    cassettes = settings.cassettes.model_copy(update=updates)
    return settings.model_copy(update={"cassettes": cassettes})


@dataclass(frozen=True)
class CassetteAge:
    """One cassette found by ``check``: where, what, and how old (or why it cannot be read)."""

    path: Path
    meta: CassetteMeta | None
    age: timedelta | None
    problem: str | None = None


def find_cassettes(roots: list[Path], *, now: datetime | None = None) -> list[CassetteAge]:
    """Every cassette under ``roots`` (a cassette folder itself, or folders holding some).

    Raises:
        ConfigError: a root does not exist.
    """
    now = now or datetime.now(UTC)
    found: list[CassetteAge] = []
    for root in roots:
        if not root.exists():
            raise ConfigError(f"{root}: no such folder")
        for meta_path in sorted(root.rglob(CASSETTE_FILE)):
            try:
                meta = CassetteMeta.model_validate_json(meta_path.read_text())
            except (OSError, ValueError) as error:
                problem = str(CassetteError(f"{meta_path}: {str(error).splitlines()[0]}"))
                found.append(CassetteAge(meta_path.parent, None, None, problem))
                continue
            found.append(CassetteAge(meta_path.parent, meta, now - meta.recorded_at))
    return found


def run(args: argparse.Namespace, console: Console) -> int:
    """``voxray replay check``; returns the exit code."""
    if args.max_age_days <= 0:
        raise ConfigError(f"--max-age-days must be > 0, got {args.max_age_days}")
    found = find_cassettes(list(args.cassettes))
    if not found:
        raise ConfigError(
            f"no cassette ({CASSETTE_FILE}) under {', '.join(map(str, args.cassettes))}"
        )
    limit = timedelta(days=args.max_age_days)
    table = Table(title=f"cassettes (stale after {args.max_age_days:g} days)")
    table.add_column("cassette", overflow="fold")
    for column in ("scenario", "model", "recorded", "age (days)", "state"):
        table.add_column(column)
    stale = broken = 0
    for item in found:
        if item.meta is None or item.age is None:
            broken += 1
            table.add_row(str(item.path), "", "", "", "", f"[red]unreadable[/red] {item.problem}")
            continue
        too_old = item.age > limit
        stale += too_old
        table.add_row(
            str(item.path),
            item.meta.scenario,
            item.meta.model or "",
            item.meta.recorded_at.strftime("%Y-%m-%d %H:%M"),
            f"{item.age.total_seconds() / 86400:.1f}",
            "[yellow]stale[/yellow]" if too_old else "[green]fresh[/green]",
        )
    console.print(table)
    console.print(f"{len(found)} cassette(s): {stale} stale, {broken} unreadable", highlight=False)
    return EXIT_FAILED if stale or broken else EXIT_OK
