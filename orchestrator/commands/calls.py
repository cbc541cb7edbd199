"""``voxray calls [RECORDS]``: list the call records the gateway appended, newest last."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from voxray.commands import EXIT_FAILED, EXIT_OK

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray calls``."""
    calls = commands.add_parser("calls", help="list the calls the gateway recorded")
    calls.add_argument(
        "records",
        type=Path,
        nargs="?",
        default=Path("calls/calls.jsonl"),
        help="the JSONL file (default calls/calls.jsonl, as voxray serve writes)",
    )
    calls.add_argument("--last", type=int, default=50, help="show the last N calls (default 50)")
    calls.add_argument("--json", action="store_true", help="print the records as JSON lines")


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the table; exit 1 when there is no such file."""
    from pydantic import ValidationError
    from voxray.actors.errors import ConfigError
    from voxray.actors.gateway.records import CallRecord

    if not args.records.is_file():
        console.print(f"no call records at {args.records}", highlight=False)
        return EXIT_FAILED
    records: list[CallRecord] = []
    for number, line in enumerate(args.records.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(CallRecord.model_validate_json(line))
        except ValidationError as error:
            raise ConfigError(
                f"not a call record: {error.errors()[0]['msg']}",
                location=f"{args.records}: line {number}",
            ) from error
    shown = records[-args.last :] if args.last > 0 else records
    if args.json:
        for record in shown:
            console.print_json(record.model_dump_json())
        return EXIT_OK
    table = Table(title=f"{len(shown)} of {len(records)} call(s) in {args.records}")
    for column in (
        "started",
        "call",
        "ingress",
        "agent",
        "caller",
        "s",
        "status",
        "turns",
        "barge-ins",
        "first audio ms",
        "tools",
        "$",
    ):
        table.add_column(column)
    for record in shown:
        table.add_row(
            record.started_at[:19].replace("T", " "),
            record.call_id,
            record.ingress,
            record.agent,
            record.caller,
            f"{record.duration_s:.1f}",
            record.status if record.status != "completed" else f"{record.end_reason}",
            str(len(record.turns)),
            str(record.barge_ins),
            "-" if record.first_agent_audio_ms is None else f"{record.first_agent_audio_ms:.0f}",
            str(len(record.tool_calls)),
            f"{record.cost_usd:.4f}",
        )
    console.print(table)
    return EXIT_OK
