"""Eval suites: load a suite, score each conversation, and write the run's results and reports."""

from orchestrator.evals.outputs import (
    COST_PER_AUDIO_MINUTE_USD,
    COST_PER_TEXT_ITEM_USD,
    RunDirectory,
    RunSummary,
    ScenarioRecord,
    ScenarioTally,
    ToolCallSummary,
    summarize,
)
from orchestrator.evals.scoring import Check, ScenarioScore, score
from orchestrator.evals.suite import (
    Expectations,
    ScenarioDefaults,
    ScenarioSpec,
    Suite,
    ToolExpectation,
    load_suite,
    select,
    with_overrides,
)
from orchestrator.evals.tables import results_table, summary_line

__all__ = [
    "COST_PER_AUDIO_MINUTE_USD",
    "COST_PER_TEXT_ITEM_USD",
    "Check",
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
    "load_suite",
    "results_table",
    "score",
    "select",
    "summarize",
    "summary_line",
    "with_overrides",
]
