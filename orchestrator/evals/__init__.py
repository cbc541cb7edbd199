"""Eval suites: load a suite, score each conversation, and write the run's results and reports."""

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
