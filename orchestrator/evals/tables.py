"""The terminal view of an eval run: a rich table of results and a one-line summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table
from rich.text import Text

from orchestrator.evals.outputs import ScenarioRecord, summarize

__all__ = ["results_table", "summary_line"]

_CHECK_CHARS = 90


def _latency(record: ScenarioRecord) -> str:
    if not record.latency_ms:
        return "—"
    return ", ".join("—" if ms is None else f"{ms:.0f}" for ms in record.latency_ms)


def _tools(record: ScenarioRecord) -> str:
    return ", ".join(f"{call.name} {'✓' if call.ok else '✗'}" for call in record.tool_calls)


def _failed_checks(record: ScenarioRecord) -> str:
    lines = []
    for check in record.failures:
        line = f"{check.name}: expected {check.expected}, got {check.got}"
        lines.append(line if len(line) <= _CHECK_CHARS else line[: _CHECK_CHARS - 1] + "…")
    return "\n".join(lines)


def results_table(records: Sequence[ScenarioRecord]) -> Table:
    """One row per scenario run: result, per-turn latency (ms), tool calls and failed checks."""
    table = Table(title="voxray eval", title_justify="left", show_lines=False)
    table.add_column("scenario", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("latency ms", justify="right")
    table.add_column("tools")
    table.add_column("failed checks", overflow="fold")
    for record in sorted(records, key=lambda r: (r.scenario, r.repeat_index)):
        verdict = Text("PASS", style="bold green") if record.passed else Text("FAIL", "bold red")
        table.add_row(record.key, verdict, _latency(record), _tools(record), _failed_checks(record))
    return table


def summary_line(
    records: Sequence[ScenarioRecord],
    wall_s: float,
    run_dir: Path | None = None,
    *,
    pass_threshold: float = 1.0,
) -> str:
    """E.g. ``3/3 scenarios passed in 14.2 s — results in runs/smoke-20261125-101500``.

    With repeats, the runs are counted too: ``2/3 scenarios passed (7/9 runs) in ...``.
    """
    summary = summarize(records, pass_threshold=pass_threshold)
    line = f"{summary.scenarios_passed}/{summary.scenarios} scenarios passed"
    if summary.runs != summary.scenarios:
        line += f" ({summary.runs_passed}/{summary.runs} runs)"
    line += f" in {wall_s:.1f} s"
    if run_dir is not None:
        line += f" — results in {run_dir}"
    return line
