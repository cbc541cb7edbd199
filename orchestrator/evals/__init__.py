"""Eval suites: load a suite, score each conversation, and write the run's results and reports.

The names load on first use, so importing one module (``voxray.evals.suite``) does not import
the rest (the report, the runner): ``voxray --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voxray.actors.lazy_exports import load_export

if TYPE_CHECKING:
    from voxray.evals.cost import (
        COST_PER_AUDIO_MINUTE_USD,
        COST_PER_TEXT_ITEM_USD,
        CostEstimate,
        estimate_cost,
    )
    from voxray.evals.outputs import RunDirectory
    from voxray.evals.records import ScenarioRecord, ToolCallSummary, TurnRecord
    from voxray.evals.report import write_report
    from voxray.evals.scoring import Check, ScenarioScore, score
    from voxray.evals.suite import (
        Expectations,
        ScenarioDefaults,
        ScenarioSpec,
        Suite,
        ToolExpectation,
        load_suite,
        select,
        with_overrides,
    )
    from voxray.evals.summary import RunSummary, ScenarioTally, summarize
    from voxray.evals.tables import results_table, summary_line

_HOMES: dict[str, str] = {
    "COST_PER_AUDIO_MINUTE_USD": "voxray.evals.cost",
    "COST_PER_TEXT_ITEM_USD": "voxray.evals.cost",
    "CostEstimate": "voxray.evals.cost",
    "estimate_cost": "voxray.evals.cost",
    "RunDirectory": "voxray.evals.outputs",
    "ScenarioRecord": "voxray.evals.records",
    "ToolCallSummary": "voxray.evals.records",
    "TurnRecord": "voxray.evals.records",
    "write_report": "voxray.evals.report",
    "Check": "voxray.evals.scoring",
    "ScenarioScore": "voxray.evals.scoring",
    "score": "voxray.evals.scoring",
    "Expectations": "voxray.evals.suite",
    "ScenarioDefaults": "voxray.evals.suite",
    "ScenarioSpec": "voxray.evals.suite",
    "Suite": "voxray.evals.suite",
    "ToolExpectation": "voxray.evals.suite",
    "load_suite": "voxray.evals.suite",
    "select": "voxray.evals.suite",
    "with_overrides": "voxray.evals.suite",
    "RunSummary": "voxray.evals.summary",
    "ScenarioTally": "voxray.evals.summary",
    "summarize": "voxray.evals.summary",
    "results_table": "voxray.evals.tables",
    "summary_line": "voxray.evals.tables",
}

__all__ = [
    "COST_PER_AUDIO_MINUTE_USD",
    "COST_PER_TEXT_ITEM_USD",
    "Check",
    "CostEstimate",
    "Expectations",
    "RunDirectory",
    "RunSummary",
    "ScenarioDefaults",
    "ScenarioRecord",
    "ScenarioScore",
    "ScenarioSpec",
    "ScenarioTally",
    "Suite",
    "ToolCallSummary",
    "ToolExpectation",
    "TurnRecord",
    "estimate_cost",
    "load_suite",
    "results_table",
    "score",
    "select",
    "summarize",
    "summary_line",
    "with_overrides",
    "write_report",
]


def __getattr__(name: str) -> Any:
    return load_export(globals(), _HOMES, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
