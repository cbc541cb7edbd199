"""The ablation table: pass rate per condition in summary.json, the terminal and the report."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from voxray.evals.condition_view import condition_section, condition_table
from voxray.evals.records import ScenarioRecord
from voxray.evals.summary import summarize


def _record(name: str, index: int, passed: bool) -> ScenarioRecord:
    return ScenarioRecord(
        key=f"{name}#{index + 1}",
        scenario=name,
        condition=name.partition("@")[2] or "clean",
        repeat_index=index,
        passed=passed,
        checks=(),
        status="completed",
        finished_at=datetime.now(UTC),
    )


def test_pass_rate_per_condition_side_by_side() -> None:
    records = [
        *(_record("weather", i, True) for i in range(2)),
        *(_record("weather@noisy-cafe", i, i == 0) for i in range(2)),
        *(_record("hello@noisy-cafe", i, False) for i in range(2)),
        *(_record("hello", i, True) for i in range(2)),
        _record("mine@street-phone", 0, True),  # a suite's own condition, after the presets
    ]
    summary = summarize(records)
    assert list(summary.per_condition) == ["clean", "noisy-cafe", "street-phone"]
    cafe = summary.per_condition["noisy-cafe"]
    assert (cafe.runs, cafe.passed_runs, cafe.pass_rate) == (4, 1, 0.25)
    assert cafe.per_scenario["weather"].pass_rate == 0.5
    assert "mine" not in cafe.per_scenario
    table = condition_table(summary)
    assert table is not None
    console = Console(width=120, record=True)
    console.print(table)
    text = console.export_text()
    assert "noisy-cafe" in text and "25%" in text and "runs per cell vary" in text
    html = condition_section(summary)
    assert "Pass rate by condition" in html and 'title="1/2 runs"' in html


def test_one_condition_has_no_table() -> None:
    summary = summarize([_record("weather", 0, True)])
    assert list(summary.per_condition) == ["clean"]
    assert condition_table(summary) is None and condition_section(summary) == ""
