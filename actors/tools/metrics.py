"""Per-tool figures: calls, errors, timeouts and latency, kept the same way on both sides.

A session's :class:`~voxray.actors.tools.executor.ToolExecutor` counts what its conversation saw
(latency as the session waited for it). The pool gathers every runner's figures (latency as the
runner ran the function: the tool's own time) and adds what only it sees (runners that died,
calls refused for capacity) into :class:`PoolStatistics`, for ``voxray status``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "MAX_LATENCY_SAMPLES",
    "PoolStatistics",
    "ToolCounters",
    "ToolStats",
    "merge_all",
    "quantile",
    "snapshot_all",
]

MAX_LATENCY_SAMPLES: Final = 1024
"""Latency samples kept per tool: the most recent ones, so percentiles follow current behaviour."""


def quantile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) of ``values``, interpolated; NaN when there are none."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class ToolStats:
    """Figures for one tool.

    Attributes:
        calls: calls finished (successful or not).
        errors: calls whose outcome was an error, timeouts included.
        timeouts: calls stopped at their timeout.
        error_types: errors by ``error.type`` (``exception``, ``timeout``, ``runner_died``...).
        latencies_ms: latency of the most recent calls (at most 1,024), oldest first.
    """

    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    error_types: Mapping[str, int] = field(default_factory=dict)
    latencies_ms: tuple[float, ...] = ()

    @property
    def latency_p50_ms(self) -> float:
        """Median latency of the recent calls; NaN before the first."""
        return quantile(self.latencies_ms, 0.5)

    @property
    def latency_p99_ms(self) -> float:
        """99th-percentile latency of the recent calls; NaN before the first."""
        return quantile(self.latencies_ms, 0.99)


@dataclass
class ToolCounters:
    """The mutable side of :class:`ToolStats`: what a recorder appends to."""

    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    error_types: dict[str, int] = field(default_factory=dict)
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_LATENCY_SAMPLES))

    def record(self, error_type: str | None, latency_ms: float | None) -> None:
        """Count one finished call; ``latency_ms`` None when it is not known."""
        self.calls += 1
        if error_type is not None:
            self.errors += 1
            self.timeouts += error_type == "timeout"
            self.error_types[error_type] = self.error_types.get(error_type, 0) + 1
        if latency_ms is not None:
            self.latencies_ms.append(latency_ms)

    def merge(self, stats: ToolStats) -> None:
        """Add another recorder's figures (e.g. a runner's, since it last reported)."""
        self.calls += stats.calls
        self.errors += stats.errors
        self.timeouts += stats.timeouts
        for error_type, count in stats.error_types.items():
            self.error_types[error_type] = self.error_types.get(error_type, 0) + count
        self.latencies_ms.extend(stats.latencies_ms)

    def snapshot(self) -> ToolStats:
        """The figures so far, frozen."""
        return ToolStats(
            self.calls, self.errors, self.timeouts, dict(self.error_types), tuple(self.latencies_ms)
        )


def snapshot_all(counters: Mapping[str, ToolCounters]) -> dict[str, ToolStats]:
    """Every tool's figures, frozen."""
    return {name: counter.snapshot() for name, counter in counters.items()}


def merge_all(into: dict[str, ToolCounters], stats: Iterable[tuple[str, ToolStats]]) -> None:
    """Add per-tool figures into ``into``, creating entries as needed."""
    for name, figures in stats:
        counters = into.get(name)
        if counters is None:
            counters = into[name] = ToolCounters()
        counters.merge(figures)


@dataclass(frozen=True)
class PoolStatistics:
    """The pool as a whole, as its keeper sees it.

    Attributes:
        runners: runner processes alive (or starting), all runtime_envs together.
        busy_runners: runners running at least one call when asked.
        max_size: the most runners the pool may have.
        queued_calls: calls waiting for a free runner now.
        max_queued_calls: the most calls that may wait.
        capacity_refusals: calls refused because the queue was full or waited too long.
        runners_started: runner processes started, replacements and growth included.
        runners_replaced: runners killed or lost and started again (timeouts, crashes, cancels).
        runners_retired: surplus runners stopped after being idle.
        runtime_envs: runners per runtime_env (``"default"`` for the pool's own).
        tools: per-tool figures over every session; latency is the runner's (the tool's own
            time).
    """

    runners: int
    busy_runners: int
    max_size: int
    queued_calls: int
    max_queued_calls: int
    capacity_refusals: int
    runners_started: int
    runners_replaced: int
    runners_retired: int
    runtime_envs: Mapping[str, int]
    tools: Mapping[str, ToolStats]
