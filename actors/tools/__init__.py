"""Function tools: specs from Python signatures, isolated execution, outcomes for the model.

::

    spec.py      ToolSpec, build_tool_spec: what the model is told, checked at load time
    outcome.py   ToolOutcome, RunnerReply: what a call produced, error outputs
    runner.py    ToolRunner: runs one call given only a reference and arguments
    pool.py      ToolPool: runners as Ray actors, timeouts, kills, replacements (imports Ray)
    inprocess.py InProcessToolBackend: the same, in the caller's process, for tests
    executor.py  ToolExecutor, ToolBackend: the session side, routing and statistics

``ToolPool`` is imported lazily so that the conversation engine and its tests do not import Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.tools.executor import ExecutorState, ToolBackend, ToolExecutor, ToolStats
from actors.tools.inprocess import InProcessToolBackend
from actors.tools.outcome import RunnerReply, ToolErrorType, ToolOutcome, error_output
from actors.tools.runner import DEFAULT_MAX_OUTPUT_BYTES, ToolRunner
from actors.tools.spec import DEFAULT_TOOL_TIMEOUT_S, ToolSpec, build_tool_spec

if TYPE_CHECKING:
    from actors.tools.pool import ToolPool

__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "DEFAULT_TOOL_TIMEOUT_S",
    "ExecutorState",
    "InProcessToolBackend",
    "RunnerReply",
    "ToolBackend",
    "ToolErrorType",
    "ToolExecutor",
    "ToolOutcome",
    "ToolPool",
    "ToolRunner",
    "ToolSpec",
    "ToolStats",
    "build_tool_spec",
    "error_output",
]


def __getattr__(name: str) -> Any:
    if name == "ToolPool":
        # Deferred on purpose: importing Ray costs time and memory the engine does not need.
        from actors.tools.pool import ToolPool

        return ToolPool
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
