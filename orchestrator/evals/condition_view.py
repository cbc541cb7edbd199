"""The ablation table: each scenario's pass rate under each caller condition, side by side, in
the terminal and in ``report.html`` (the τ-voice table, for your own agent)."""

from __future__ import annotations

from html import escape

from rich.table import Table
from voxray.evals.conditions import ConditionTally
from voxray.evals.summary import RunSummary

__all__ = ["condition_section", "condition_table"]


def _scenarios(per_condition: dict[str, ConditionTally]) -> list[str]:
    names: list[str] = []
    for tally in per_condition.values():
        names += [name for name in tally.per_scenario if name not in names]
    return names


def _cell(tally: ConditionTally, scenario: str) -> str:
    cell = tally.per_scenario.get(scenario)
    if cell is None or not cell.runs:
        return "—"
    return f"{cell.pass_rate:.0%}"


def condition_table(summary: RunSummary) -> Table | None:
    """Scenarios down, conditions across, pass rates in the cells (runs per cell in the
    caption), the total at the bottom; None when the run had one condition only."""
    per_condition = summary.per_condition
    if len(per_condition) < 2:
        return None
    runs = {cell.runs for tally in per_condition.values() for cell in tally.per_scenario.values()}
    caption = f"{runs.pop()} run(s) per cell" if len(runs) == 1 else "runs per cell vary"
    table = Table(title="pass rate by condition", title_justify="left", caption=caption)
    table.add_column("scenario", no_wrap=True)
    for condition in per_condition:
        # Headers fold rather than truncate: eight conditions fit 80 columns.
        table.add_column(condition, justify="right", overflow="fold", min_width=4)
    for scenario in _scenarios(per_condition):
        table.add_row(scenario, *(_cell(tally, scenario) for tally in per_condition.values()))
    table.add_section()
    table.add_row("all", *(f"{t.pass_rate:.0%}" for t in per_condition.values()), style="bold")
    return table


def condition_section(summary: RunSummary) -> str:
    """The report's "Pass rate by condition" section; empty with one condition only."""
    per_condition = summary.per_condition
    if len(per_condition) < 2:
        return ""
    head = "".join(f'<th class="num">{escape(name)}</th>' for name in per_condition)

    def cells(values: list[tuple[float, str, str]]) -> str:
        # Narrow bars: a matrix of eight conditions still fits the page.
        return "".join(
            f'<td class="num" title="{escape(title)}"><div class="rate"><div class="bar" '
            f'style="width:36px"><span style="width:{rate * 100:.0f}%"></span></div>'
            f"{escape(text)}</div></td>"
            for rate, text, title in values
        )

    rows = []
    for scenario in _scenarios(per_condition):
        values = []
        for tally in per_condition.values():
            cell = tally.per_scenario.get(scenario)
            values.append(
                (cell.pass_rate, f"{cell.pass_rate:.0%}", f"{cell.passed_runs}/{cell.runs} runs")
                if cell and cell.runs
                else (0.0, "—", "not run")
            )
        rows.append(f"<tr><td><b>{escape(scenario)}</b></td>{cells(values)}</tr>")
    total = [
        (t.pass_rate, f"{t.pass_rate:.0%}", f"{t.passed_runs}/{t.runs} runs")
        for t in per_condition.values()
    ]
    rows.append(f"<tr><td><b>all scenarios</b></td>{cells(total)}</tr>")
    return (
        '<h2 id="conditions">Pass rate by condition</h2>'
        '<p class="desc">Each scenario run under each caller condition (the user\'s audio '
        "transformed before the session heard it; runs are named <code>scenario@condition"
        "</code>).</p>"
        f'<table class="results"><thead><tr><th>scenario</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
