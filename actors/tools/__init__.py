"""Function tools: specs from Python signatures, isolated execution, outcomes for the model.

::

    spec.py          ToolSpec, build_tool_spec: what the model is told, checked at load time
    settings.py      ToolPoolSettings: the pool's sizes, bounds and timeouts
    outcome.py       ToolOutcome, RunnerReply: what a call produced, error outputs
    redact.py        SecretScrubber: secret values kept out of error messages and logs
    metrics.py       ToolStats, PoolStatistics: calls, errors, timeouts, latency per tool
    runner.py        ToolRunner: runs one call given only a reference and arguments
    protocol.py      the tuples the pool's client, runners and keeper exchange
    runner_actor.py  a runner as a Ray actor: admission, stopping itself (imports Ray)
    keeper.py        the pool's keeper actor: growth, queue, replacement, health (imports Ray)
    pool.py          ToolPool: the client sessions call runners through (imports Ray)
    inprocess.py     InProcessToolBackend: the same, in the caller's process, for tests
    executor.py      ToolExecutor, ToolBackend: the session side, routing and statistics

``ToolPool`` is imported lazily so that the conversation engine and its tests do not import Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voxray.actors.tools.executor import ExecutorState, ToolBackend, ToolExecutor
from voxray.actors.tools.inprocess import InProcessToolBackend
from voxray.actors.tools.metrics import PoolStatistics, ToolStats
from voxray.actors.tools.outcome import RunnerReply, ToolErrorType, ToolOutcome, error_output
from voxray.actors.tools.runner import ToolRunner
from voxray.actors.tools.settings import DEFAULT_MAX_OUTPUT_BYTES, ToolPoolSettings
from voxray.actors.tools.spec import (
    DEFAULT_TOOL_TIMEOUT_S,
    ToolSpec,
    build_tool_spec,
    tool_spec_from_entry,
)

if TYPE_CHECKING:
    from voxray.actors.tools.pool import ToolPool

__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "DEFAULT_TOOL_TIMEOUT_S",
    "ExecutorState",
    "InProcessToolBackend",
    "PoolStatistics",
    "RunnerReply",
    "ToolBackend",
    "ToolErrorType",
    "ToolExecutor",
    "ToolOutcome",
    "ToolPool",
    "ToolPoolSettings",
    "ToolRunner",
    "ToolSpec",
    "ToolStats",
    "build_tool_spec",
    "error_output",
    "tool_spec_from_entry",
]


def __getattr__(name: str) -> Any:
    if name == "ToolPool":
        # Deferred on purpose: importing Ray costs time and memory the engine does not need.
        from voxray.actors.tools.pool import ToolPool

        return ToolPool
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
