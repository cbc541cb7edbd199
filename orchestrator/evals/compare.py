"""Two eval runs side by side: what got worse, and whether it is more than noise.

For every scenario and condition (a run name such as ``weather`` or ``weather@phone``) found
in run A (the baseline) or run B (the candidate):

- the pass rate on each side with its 95 % Wilson score interval, the change, and whether the
  change is significant at the repeats run: a one-sided Fisher exact test on the 2x2 table of
  passed/failed runs, p < ``alpha`` (0.05). With one run each side no change is ever
  significant; 10/10 → 3/10 is (p ≈ 0.002), 9/10 → 8/10 is not (p = 0.5);
- response latency p50 and p95 over every measured turn, and their change;
- the checks that fail in B but never failed in A ("newly failing"), and the reverse;
- tool calls per run by name on each side, where they differ.

A *regression* is a significant drop of the pass rate, or a latency p95 that grew by more than
``latency_tolerance`` (a fraction, 0.25 = 25 %) and by more than ``latency_floor_ms`` (jitter
on a fast scenario is not a regression). ``voxray eval --baseline`` exits 1 on any.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field
from voxray.actors.errors import ConfigError
from voxray.evals.conditions import split_cell
from voxray.evals.records import ScenarioRecord
from voxray.evals.summary import percentile

__all__ = [
    "CellComparison",
    "Comparison",
    "RegressionGate",
    "SideFigures",
    "compare_records",
    "compare_runs",
    "fisher_one_sided",
    "load_run",
    "wilson_interval",
]

_Z95 = 1.959963984540054
RESULTS_FILE = "results.jsonl"


@dataclass(frozen=True)
class RegressionGate:
    """What counts as a regression (see the module doc).

    Raises:
        ConfigError: a threshold out of range (naming it), when built.
    """

    alpha: float = 0.05
    """Significance level of a pass-rate drop, between 0 and 1 (exclusive)."""
    latency_tolerance: float = 0.25
    """Latency p95 growth, as a fraction of the baseline's, that regresses (>= 0)..."""
    latency_floor_ms: float = 50.0
    """... when it is also at least this many ms (>= 0)."""

    def __post_init__(self) -> None:
        # Written so that NaN fails too (every comparison with NaN is false).
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha must be between 0 and 1 (exclusive), got {self.alpha}")
        if not self.latency_tolerance >= 0:
            raise ConfigError(f"latency_tolerance must be >= 0, got {self.latency_tolerance}")
        if not self.latency_floor_ms >= 0:
            raise ConfigError(f"latency_floor_ms must be >= 0, got {self.latency_floor_ms}")


def wilson_interval(passed: int, runs: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a pass rate (95 % by default); (0, 1) with no runs."""
    if runs == 0:
        return 0.0, 1.0
    rate = passed / runs
    denominator = 1 + z * z / runs
    centre = (rate + z * z / (2 * runs)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / runs + z * z / (4 * runs * runs)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def fisher_one_sided(passed_a: int, runs_a: int, passed_b: int, runs_b: int) -> float:
    """P(B passes this few or fewer | the margins), the one-sided Fisher exact test of a drop.

    Small for a real drop from A to B; 1.0 when either side has no runs.
    """
    if runs_a == 0 or runs_b == 0:
        return 1.0
    total_passed = passed_a + passed_b
    total = runs_a + runs_b
    denominator = math.comb(total, runs_b)
    low = max(0, total_passed - runs_a)
    return min(
        1.0,
        sum(
            math.comb(total_passed, k) * math.comb(total - total_passed, runs_b - k)
            for k in range(low, passed_b + 1)
        )
        / denominator,
    )


class SideFigures(BaseModel):
    """One run's figures for one scenario and condition."""

    runs: int
    passed_runs: int
    pass_rate: float
    pass_rate_low: float = Field(description="95 % Wilson interval, lower end.")
    pass_rate_high: float = Field(description="95 % Wilson interval, upper end.")
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    failing_checks: dict[str, int] = Field(description="Check → runs that failed it.")
    tool_calls: dict[str, float] = Field(description="Tool → calls per run.")


class CellComparison(BaseModel):
    """A scenario under a condition, in both runs."""

    name: str = Field(description="The run name: `scenario` or `scenario@condition`.")
    scenario: str
    condition: str
    a: SideFigures | None = Field(description="The baseline's figures; None if it lacks it.")
    b: SideFigures | None = Field(description="The candidate's figures; None if it lacks it.")
    pass_rate_change: float | None = None
    p_value: float | None = Field(None, description="One-sided Fisher test of a drop.")
    significant_drop: bool = False
    latency_p50_change_ms: float | None = None
    latency_p95_change_ms: float | None = None
    latency_regression: bool = False
    newly_failing: list[str] = Field(default_factory=list, description="Fail in B, never in A.")
    newly_passing: list[str] = Field(default_factory=list, description="Fail in A, never in B.")
    tool_call_changes: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="Tool → (calls per run in A, in B), where they differ."
    )

    @property
    def regressed(self) -> bool:
        """A significant pass-rate drop or a latency p95 regression."""
        return self.significant_drop or self.latency_regression

    def reasons(self) -> list[str]:
        """Why this is a regression, one phrase each."""
        reasons: list[str] = []
        if self.significant_drop and self.a is not None and self.b is not None:
            reasons.append(
                f"pass rate {self.a.passed_runs}/{self.a.runs} -> {self.b.passed_runs}/"
                f"{self.b.runs} (p={self.p_value:.3f})"
            )
        if self.latency_regression and self.a is not None and self.b is not None:
            reasons.append(
                f"latency p95 {self.a.latency_p95_ms:.0f} -> {self.b.latency_p95_ms:.0f} ms"
            )
        if self.newly_failing:
            reasons.append("newly failing: " + ", ".join(self.newly_failing))
        return reasons


class Comparison(BaseModel):
    """``compare.json``: run A (baseline) against run B."""

    run_a: str
    run_b: str
    alpha: float
    latency_tolerance: float
    latency_floor_ms: float
    cells: list[CellComparison]

    @property
    def regressions(self) -> list[CellComparison]:
        """The cells that regressed."""
        return [cell for cell in self.cells if cell.regressed]


def _finished(records: Iterable[ScenarioRecord]) -> dict[str, list[ScenarioRecord]]:
    latest = {record.key: record for record in records}
    by_cell: dict[str, list[ScenarioRecord]] = {}
    for record in latest.values():
        if record.status in ("completed", "failed"):
            by_cell.setdefault(record.scenario, []).append(record)
    return by_cell


def _figures(runs: Sequence[ScenarioRecord]) -> SideFigures:
    passed = sum(1 for run in runs if run.passed)
    low, high = wilson_interval(passed, len(runs))
    latencies = sorted(ms for run in runs for ms in run.latency_ms if ms is not None)
    failing = Counter(check.name for run in runs for check in run.failures)
    tools = Counter(call.name for run in runs for call in run.tool_calls)
    return SideFigures(
        runs=len(runs),
        passed_runs=passed,
        pass_rate=round(passed / len(runs), 4),
        pass_rate_low=round(low, 4),
        pass_rate_high=round(high, 4),
        latency_p50_ms=percentile(latencies, 0.5) if latencies else None,
        latency_p95_ms=percentile(latencies, 0.95) if latencies else None,
        failing_checks=dict(failing.most_common()),
        tool_calls={name: round(count / len(runs), 2) for name, count in sorted(tools.items())},
    )


def _change(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 1)


def compare_records(
    records_a: Iterable[ScenarioRecord],
    records_b: Iterable[ScenarioRecord],
    *,
    run_a: str = "A",
    run_b: str = "B",
    alpha: float = 0.05,
    latency_tolerance: float = 0.25,
    latency_floor_ms: float = 50.0,
) -> Comparison:
    """Compare two runs' records (see the module doc for what counts as a regression).

    Raises:
        ConfigError: a threshold out of range (see :class:`RegressionGate`).
    """
    gate = RegressionGate(alpha, latency_tolerance, latency_floor_ms)  # refuses nonsense
    side_a, side_b = _finished(records_a), _finished(records_b)
    cells: list[CellComparison] = []
    for name in [*side_a, *(n for n in side_b if n not in side_a)]:
        scenario, condition = split_cell(name)
        a = _figures(side_a[name]) if name in side_a else None
        b = _figures(side_b[name]) if name in side_b else None
        cell = CellComparison(name=name, scenario=scenario, condition=condition, a=a, b=b)
        if a is not None and b is not None:
            p_value = fisher_one_sided(a.passed_runs, a.runs, b.passed_runs, b.runs)
            p95_a, p95_b = a.latency_p95_ms, b.latency_p95_ms
            grew = (
                p95_a is not None
                and p95_b is not None
                and p95_b > p95_a * (1 + gate.latency_tolerance)
                and p95_b - p95_a > gate.latency_floor_ms
            )
            tools = sorted(set(a.tool_calls) | set(b.tool_calls))
            cell = cell.model_copy(
                update={
                    "pass_rate_change": round(b.pass_rate - a.pass_rate, 4),
                    "p_value": round(p_value, 4),
                    "significant_drop": b.pass_rate < a.pass_rate and p_value < gate.alpha,
                    "latency_p50_change_ms": _change(a.latency_p50_ms, b.latency_p50_ms),
                    "latency_p95_change_ms": _change(p95_a, p95_b),
                    "latency_regression": grew,
                    "newly_failing": [c for c in b.failing_checks if c not in a.failing_checks],
                    "newly_passing": [c for c in a.failing_checks if c not in b.failing_checks],
                    "tool_call_changes": {
                        tool: (a.tool_calls.get(tool, 0.0), b.tool_calls.get(tool, 0.0))
                        for tool in tools
                        if a.tool_calls.get(tool, 0.0) != b.tool_calls.get(tool, 0.0)
                    },
                }
            )
        cells.append(cell)
    return Comparison(
        run_a=run_a,
        run_b=run_b,
        alpha=alpha,
        latency_tolerance=latency_tolerance,
        latency_floor_ms=latency_floor_ms,
        cells=cells,
    )


def load_run(path: Path) -> list[ScenarioRecord]:
    """The records of the run directory at ``path`` (read only; a torn last line is skipped).

    Raises:
        ConfigError: ``path`` is not a run directory, or a line is not a record.
    """
    results = path / RESULTS_FILE
    if not path.is_dir():
        raise ConfigError("not a run directory (no such directory)", location=str(path))
    if not results.is_file():
        raise ConfigError(f"not a run directory (no {RESULTS_FILE})", location=str(path))
    text = results.read_text(encoding="utf-8", errors="replace")
    records: list[ScenarioRecord] = []
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            records.append(ScenarioRecord.model_validate_json(line))
        except ValueError as error:
            reason = str(error).splitlines()[0]
            raise ConfigError(
                f"line {number} is not a result record: {reason}", location=str(results)
            ) from error
    return records


def compare_runs(
    run_a: Path,
    run_b: Path,
    *,
    alpha: float = 0.05,
    latency_tolerance: float = 0.25,
    latency_floor_ms: float = 50.0,
) -> Comparison:
    """Load two run directories and compare them (A is the baseline).

    Raises:
        ConfigError: a run directory is missing or broken, or a threshold is out of range.
    """
    RegressionGate(alpha, latency_tolerance, latency_floor_ms)  # before reading any file
    return compare_records(
        load_run(run_a),
        load_run(run_b),
        run_a=str(run_a),
        run_b=str(run_b),
        alpha=alpha,
        latency_tolerance=latency_tolerance,
        latency_floor_ms=latency_floor_ms,
    )


def write_comparison(comparison: Comparison, directory: Path) -> Path:
    """Write ``compare.json`` into ``directory``; returns its path."""
    target = directory / "compare.json"
    data = comparison.model_dump(mode="json")
    data["regressions"] = [cell.name for cell in comparison.regressions]
    target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return target
