"""The terminal view of an eval run: rich tables of results and a one-line summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table
from rich.text import Text
from voxray.evals.records import ScenarioRecord
from voxray.evals.summary import RunSummary, summarize

__all__ = ["results_table", "scenario_table", "summary_line", "verdict_markup"]

_CHECK_CHARS = 90


def _latency(record: ScenarioRecord) -> str:
    if not record.latency_ms:
        return "—"
    return ", ".join("—" if ms is None else f"{ms:.0f}" for ms in record.latency_ms)


def _tools(record: ScenarioRecord) -> str:
    return ", ".join(f"{call.name} {'✓' if call.ok else '✗'}" for call in record.tool_calls)


def _clip(line: str) -> str:
    return line if len(line) <= _CHECK_CHARS else line[: _CHECK_CHARS - 1] + "…"


def _failed_checks(record: ScenarioRecord) -> Text:
    text = Text()
    for check in record.failures:
        text.append(_clip(f"{check.name}: expected {check.expected}, got {check.got}") + "\n")
    for check in record.skipped:
        # Shown, dimmed, so that an expectation that was never judged cannot pass unnoticed.
        text.append(_clip(f"skipped {check.name}: {check.got}") + "\n", style="dim")
    text.rstrip()
    return text


def results_table(records: Sequence[ScenarioRecord]) -> Table:
    """One row per scenario run: result, per-turn latency (ms), tool calls and failed checks
    (and, dimmed, checks that could not be judged)."""
    table = Table(title="voxray eval", title_justify="left", show_lines=False)
    table.add_column("scenario", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("latency ms", justify="right")
    table.add_column("tools")
    table.add_column("failed checks", overflow="fold")
    for record in sorted(records, key=lambda r: (r.scenario, r.repeat_index)):
        verdict = Text.from_markup(verdict_markup(record))
        table.add_row(record.key, verdict, _latency(record), _tools(record), _failed_checks(record))
    return table


_UNFINISHED_LABELS = {"not_run": "NOT RUN", "interrupted": "INTERRUPTED", "lost": "LOST"}


def verdict_markup(record: ScenarioRecord) -> str:
    """``PASS``/``FAIL`` for a finished run; ``NOT RUN``, ``INTERRUPTED`` or ``LOST`` (never a
    failure: ``--resume`` runs it) for one that did not finish; as rich markup."""
    if not record.finished:
        return f"[bold yellow]{_UNFINISHED_LABELS.get(record.status, record.status)}[/bold yellow]"
    return "[bold green]PASS[/bold green]" if record.passed else "[bold red]FAIL[/bold red]"


def scenario_table(summary: RunSummary) -> Table:
    """One row per scenario over its repeats: pass rate, verdict, latency p95, kinds of failure."""
    table = Table(
        title=f"per scenario (passes at ≥ {summary.pass_threshold:.0%} of runs)",
        title_justify="left",
    )
    table.add_column("scenario", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("runs passed", justify="right")
    table.add_column("p95 ms", justify="right")
    table.add_column("kinds of failure", overflow="fold")
    for name, tally in summary.per_scenario.items():
        verdict = Text("PASS", style="bold green") if tally.passed else Text("FAIL", "bold red")
        kinds = [f"{check} ×{count}" for check, count in tally.failure_kinds.items()]  # noqa: RUF001
        kinds += [f"{c.name}: {c.got}" for c in tally.scenario_checks if not c.passed]
        p95 = "—" if tally.latency_p95_ms is None else f"{tally.latency_p95_ms:.0f}"
        table.add_row(
            name,
            verdict,
            f"{tally.passed_runs}/{tally.runs} ({tally.pass_rate:.0%})",
            p95,
            "\n".join(kinds),
        )
    return table


def summary_line(
    records: Sequence[ScenarioRecord],
    wall_s: float,
    run_dir: Path | None = None,
    *,
    pass_threshold: float = 1.0,
    backend: str | None = None,
) -> str:
    """E.g. ``3/3 scenarios passed in 14.2 s — results in runs/smoke-20261125-101500``.

    With repeats, the runs are counted too: ``2/3 scenarios passed (7/9 runs) in ...``. Given
    the ``backend``, the cost of the audio is added: what it cost on ``xai``, what it would have
    cost there on ``sim``.
    """
    summary = summarize(records, pass_threshold=pass_threshold)
    line = f"{summary.scenarios_passed}/{summary.scenarios} scenarios passed"
    if summary.runs != summary.scenarios:
        line += f" ({summary.runs_passed}/{summary.runs} runs)"
    if summary.runs_unfinished:
        line += f", {summary.runs_unfinished} run(s) not finished"
    line += f" in {wall_s:.1f} s"
    if backend is not None:
        minutes = summary.audio_in_minutes + summary.audio_out_minutes
        cost = f"${summary.cost_estimate_usd:.2f} for {minutes:.1f} audio min"
        line += f" — cost ≈ {cost}" if backend == "xai" else f" — on xAI ≈ {cost}"
    if run_dir is not None:
        line += f" — results in {run_dir}"
    return line
