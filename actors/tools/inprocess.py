"""A tool backend that runs calls in the caller's own process, for tests without Ray.

Same argument handling, timeouts and error outputs as the Ray pool (it uses the same
:class:`~voxray.actors.tools.runner.ToolRunner`). What it cannot do is contain a tool: a hung sync
function keeps its thread after the timeout outcome is returned, and a function that exits the
process takes the caller with it. Use the pool for anything real.
"""

from __future__ import annotations

import time

from voxray.actors.tools.outcome import ToolOutcome
from voxray.actors.tools.runner import ToolRunner
from voxray.actors.tools.settings import DEFAULT_MAX_OUTPUT_BYTES
from voxray.actors.tools.spec import DEFAULT_TOOL_TIMEOUT_S, ToolSpec

__all__ = ["InProcessToolBackend"]


class InProcessToolBackend:
    """Runs function calls on the current event loop (async tools) or its threads (sync tools).

    Args:
        max_output_bytes: outputs longer than this are truncated with a note.
        default_timeout_s: seconds a call may run when its tool declares no timeout.
    """

    def __init__(
        self,
        *,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        default_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S,
    ) -> None:
        self._runner = ToolRunner(max_output_bytes=max_output_bytes)
        self._default_timeout_s = default_timeout_s

    async def call(self, spec: ToolSpec, call_id: str, arguments_json: str) -> ToolOutcome:
        """Run one call within its timeout; never raises except on cancellation."""
        started = time.perf_counter()
        timeout_s = spec.timeout_s or self._default_timeout_s
        reply = await self._runner.invoke(spec.ref, arguments_json, timeout_s=timeout_s)
        latency_ms = (time.perf_counter() - started) * 1000
        return ToolOutcome.from_reply(reply, call_id=call_id, name=spec.name, latency_ms=latency_ms)
