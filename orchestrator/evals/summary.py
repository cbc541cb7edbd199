"""The figures of a run: per scenario (pass rate over repeats, kinds of failure, latency p95
against its budget) and for the whole run (counts, latency percentiles, audio minutes, cost).

A scenario passes when its pass rate reaches the suite's ``pass_threshold`` and its
scenario-level checks (``max_latency_p95_ms``, judged over every turn of every run) pass.
Only finished runs are judged: a run that did not finish (not run, interrupted, lost) is listed
in ``unfinished`` and never counts as a failure of its scenario; the run as a whole has not
passed until it is resumed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field
from voxray.evals.conditions import ConditionTally, condition_tallies
from voxray.evals.cost import audio_cost_usd
from voxray.evals.judge_summary import JudgeItemTally, JudgeUsage, judge_item_tallies, judge_usage
from voxray.evals.records import RunStatus, ScenarioRecord
from voxray.evals.scoring import Check

__all__ = ["RunSummary", "ScenarioTally", "UnfinishedRun", "percentile", "summarize"]


class ScenarioTally(BaseModel):
    """How one scenario did over its repeats."""

    runs: int
    passed_runs: int
    pass_rate: float
    passed: bool = Field(
        description="pass_rate reached the suite's pass_threshold and every scenario check passed."
    )
    failure_kinds: dict[str, int] = Field(
        default_factory=dict,
        description="Failed check name → how many runs failed it, most frequent first.",
    )
    skipped_checks: dict[str, int] = Field(
        default_factory=dict, description="Check name → runs where it could not be judged."
    )
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    scenario_checks: list[Check] = Field(
        default_factory=list, description="Checks judged across runs (latency p95)."
    )
    judge_items: dict[str, JudgeItemTally] = Field(
        default_factory=dict,
        description="Each `expect.judge` rubric item → its verdicts over the runs, uncertain "
        "and errors apart, sample agreement and how often the verdict flipped across repeats.",
    )


class UnfinishedRun(BaseModel):
    """A run that did not finish: ``--resume`` runs it again."""

    key: str
    scenario: str
    status: RunStatus
    reason: str | None = None


class RunSummary(BaseModel):
    """The figures of ``summary.json``."""

    scenarios: int = Field(description="Scenarios with at least one finished run.")
    scenarios_passed: int
    runs: int = Field(description="Finished runs (completed or failed).")
    runs_passed: int
    runs_errored: int = Field(description="Finished runs whose session ended with an error.")
    runs_unfinished: int = Field(
        0, description="Runs not run, interrupted or lost: rerun by --resume, never failures."
    )
    unfinished: list[UnfinishedRun] = Field(default_factory=list)
    pass_threshold: float
    per_scenario: dict[str, ScenarioTally]
    per_condition: dict[str, ConditionTally] = Field(
        default_factory=dict,
        description="Caller condition → pass rate over its finished runs, and per scenario "
        "(the ablation table; `clean` for runs without a condition).",
    )
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_samples: int
    audio_in_minutes: float
    audio_out_minutes: float
    cost_estimate_usd: float = Field(
        description=(
            "What the run costs (or would cost) on xAI: audio minutes sent and received at the "
            "per-minute price plus typed messages; tool calls are billed separately, not here."
        )
    )
    cost_estimate_planned_usd: float | None = Field(
        None, description="The estimate printed before the run, from the scripts alone."
    )
    judge: JudgeUsage | None = Field(
        None,
        description="The judge's requests, tokens and their cost (included in "
        "cost_estimate_usd); None when no run had `expect.judge`.",
    )
    wall_s: float | None = None

    @property
    def all_passed(self) -> bool:
        """Whether every scenario reached the pass threshold and every run finished."""
        return self.scenarios_passed == self.scenarios and self.runs_unfinished == 0

    @property
    def scenarios_failed(self) -> int:
        """Scenarios judged and failed (unfinished runs never make a scenario fail)."""
        return self.scenarios - self.scenarios_passed


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), rounded to 0.1."""
    position = (len(sorted_values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    value = sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)
    return round(value, 1)


def _latencies(records: Iterable[ScenarioRecord]) -> list[float]:
    return sorted(ms for record in records for ms in record.latency_ms if ms is not None)


def _p95_check(budget_ms: float, latencies: list[float], runs: int) -> Check:
    expected = f"p95 of response latency within {budget_ms:.0f} ms"
    if not latencies:
        return Check(name="latency p95", passed=False, expected=expected, got="no measured latency")
    p95 = percentile(latencies, 0.95)
    return Check(
        name="latency p95",
        passed=p95 <= budget_ms,
        expected=expected,
        got=f"{p95:.0f} ms over {len(latencies)} turns of {runs} run{'s' if runs > 1 else ''}",
    )


def _tally(runs: list[ScenarioRecord], pass_threshold: float) -> ScenarioTally:
    passed_runs = sum(1 for run in runs if run.passed)
    rate = passed_runs / len(runs)
    failures = Counter(check.name for run in runs for check in run.failures)
    skipped = Counter(check.name for run in runs for check in run.skipped)
    latencies = _latencies(runs)
    # The latest run's budget: a resumed run judges with the suite as it is now.
    budget = runs[-1].latency_p95_budget_ms
    checks = [] if budget is None else [_p95_check(budget, latencies, len(runs))]
    return ScenarioTally(
        runs=len(runs),
        passed_runs=passed_runs,
        pass_rate=round(rate, 4),
        passed=rate >= pass_threshold and all(check.passed for check in checks),
        failure_kinds=dict(failures.most_common()),
        skipped_checks=dict(skipped.most_common()),
        latency_p50_ms=percentile(latencies, 0.50) if latencies else None,
        latency_p95_ms=percentile(latencies, 0.95) if latencies else None,
        scenario_checks=checks,
        judge_items=judge_item_tallies(runs),
    )


def summarize(
    records: Iterable[ScenarioRecord],
    *,
    pass_threshold: float = 1.0,
    wall_s: float | None = None,
    planned_cost_usd: float | None = None,
) -> RunSummary:
    """Aggregate records (the last record of a key wins, as after a resumed run)."""
    every = {record.key: record for record in records}
    latest = {key: record for key, record in every.items() if record.finished}
    unfinished = [
        UnfinishedRun(key=r.key, scenario=r.scenario, status=r.status, reason=r.error)
        for r in every.values()
        if not r.finished
    ]
    by_scenario: dict[str, list[ScenarioRecord]] = {}
    for record in latest.values():
        by_scenario.setdefault(record.scenario, []).append(record)
    tallies = {
        name: _tally(sorted(runs, key=lambda r: r.repeat_index), pass_threshold)
        for name, runs in by_scenario.items()
    }
    latencies = _latencies(latest.values())
    audio_in_min = sum(r.audio_in_ms for r in latest.values()) / 60_000
    audio_out_min = sum(r.audio_out_ms for r in latest.values()) / 60_000
    judged = judge_usage(latest.values())
    return RunSummary(
        scenarios=len(tallies),
        scenarios_passed=sum(1 for tally in tallies.values() if tally.passed),
        runs=len(latest),
        runs_passed=sum(1 for r in latest.values() if r.passed),
        runs_errored=sum(1 for r in latest.values() if r.status != "completed"),
        runs_unfinished=len(unfinished),
        unfinished=unfinished,
        pass_threshold=pass_threshold,
        per_scenario=tallies,
        per_condition=condition_tallies(latest.values()),
        latency_p50_ms=percentile(latencies, 0.50) if latencies else None,
        latency_p95_ms=percentile(latencies, 0.95) if latencies else None,
        latency_samples=len(latencies),
        audio_in_minutes=round(audio_in_min, 3),
        audio_out_minutes=round(audio_out_min, 3),
        cost_estimate_usd=round(
            audio_cost_usd(
                audio_in_min + audio_out_min, sum(r.typed_turns for r in latest.values())
            )
            + (judged.cost_usd if judged is not None else 0.0),
            6,
        ),
        cost_estimate_planned_usd=planned_cost_usd,
        judge=judged,
        wall_s=None if wall_s is None else round(wall_s, 2),
    )
