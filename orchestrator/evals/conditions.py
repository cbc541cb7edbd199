"""Caller conditions in a suite: names, the ablation matrix, and pass rates per condition.

A scenario runs under a condition (:mod:`voxray.actors.audio.conditions`): one of the
built-in presets (``clean``, ``phone``, ``noisy-cafe``, ``bad-mic``, ...), or one the suite
defines under ``conditions:``. A scenario run under a condition other than ``clean`` is named
``<scenario>@<condition>`` (``weather@phone``) everywhere a run is named: results, JUnit,
recordings, the report, ``voxray compare``. ``@`` cannot appear in a scenario's own name, so
the split is unambiguous, and a ``clean`` run keeps the plain name, comparable with runs made
before conditions existed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from voxray.actors.audio.conditions import CLEAN, PRESETS, CallerCondition

if TYPE_CHECKING:
    from voxray.evals.records import ScenarioRecord

__all__ = [
    "CELL_SEPARATOR",
    "CellTally",
    "ConditionTally",
    "cell_name",
    "condition_tallies",
    "described",
    "known_conditions",
    "resolve_condition",
    "split_cell",
]

CELL_SEPARATOR = "@"


def cell_name(scenario: str, condition: str | None) -> str:
    """The run name of ``scenario`` under ``condition`` (plain for clean or none)."""
    if condition is None or condition == CLEAN:
        return scenario
    return f"{scenario}{CELL_SEPARATOR}{condition}"


def split_cell(name: str) -> tuple[str, str]:
    """``weather@phone`` → ``("weather", "phone")``; ``weather`` → ``("weather", "clean")``."""
    scenario, _, condition = name.partition(CELL_SEPARATOR)
    return scenario, condition or CLEAN


def described(description: str, condition: CallerCondition | None) -> str:
    """A scenario's description with the caller condition its runs had (for the report)."""
    if condition is None or condition.name == CLEAN:
        return description
    what = f"{condition.name}: {condition.description}" if condition.description else condition.name
    caller = f"Caller condition {what}."
    return f"{description} {caller}" if description else caller


def known_conditions(custom: Mapping[str, CallerCondition] | None = None) -> list[str]:
    """Every condition name usable here: the presets, then the suite's own."""
    return [*PRESETS, *(name for name in custom or {} if name not in PRESETS)]


def resolve_condition(
    name: str, custom: Mapping[str, CallerCondition] | None = None
) -> CallerCondition:
    """The condition called ``name``: the suite's own first, then the presets.

    Raises:
        ValueError: no condition has that name (the message lists the known ones).
    """
    if custom and name in custom:
        return custom[name]
    if name in PRESETS:
        return PRESETS[name]
    raise ValueError(f"unknown condition {name!r}; known: {', '.join(known_conditions(custom))}")


class CellTally(BaseModel):
    """One scenario under one condition."""

    runs: int = 0
    passed_runs: int = 0

    @property
    def pass_rate(self) -> float:
        """Passed over finished runs (0 when none)."""
        return self.passed_runs / self.runs if self.runs else 0.0


class ConditionTally(BaseModel):
    """How a run did under one condition: finished runs, passes, and per scenario."""

    runs: int = 0
    passed_runs: int = 0
    pass_rate: float = 0.0
    per_scenario: dict[str, CellTally] = Field(
        default_factory=dict, description="Scenario (without @condition) → its runs."
    )


def _condition_order(name: str) -> tuple[int, int, str]:
    presets = list(PRESETS)
    return (0, presets.index(name), "") if name in PRESETS else (1, 0, name)


def condition_tallies(records: Iterable[ScenarioRecord]) -> dict[str, ConditionTally]:
    """Pass counts per condition, ``clean`` and the presets first, in their documented order,
    then the suite's own by name (latest record per key; runs that did not finish are not
    judged)."""
    latest = {record.key: record for record in records}
    tallies: dict[str, ConditionTally] = {}
    for record in latest.values():
        if record.status not in ("completed", "failed"):
            continue
        scenario, condition = split_cell(record.scenario)
        tally = tallies.setdefault(condition, ConditionTally())
        tally.runs += 1
        tally.passed_runs += record.passed
        tally.pass_rate = round(tally.passed_runs / tally.runs, 4)
        cell = tally.per_scenario.setdefault(scenario, CellTally())
        cell.runs += 1
        cell.passed_runs += record.passed
    return {name: tallies[name] for name in sorted(tallies, key=_condition_order)}
