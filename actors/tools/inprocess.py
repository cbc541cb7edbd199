"""A tool backend that runs calls in the caller's own process, for tests without Ray.

Same argument handling and error outputs as the Ray pool (it uses the same
:class:`~actors.tools.runner.ToolRunner`), with timeouts through asyncio. What it cannot do is
contain a tool: a hung sync function keeps its thread after the timeout outcome is returned, and
a function that exits the process takes the caller with it. Use the pool for anything real.
"""

from __future__ import annotations

import asyncio
import time

from actors.tools.outcome import ToolOutcome
from actors.tools.runner import DEFAULT_MAX_OUTPUT_BYTES, ToolRunner, decode_arguments
from actors.tools.spec import ToolSpec

__all__ = ["InProcessToolBackend"]


class InProcessToolBackend:
    """Runs function calls on the current event loop (async tools) or its threads (sync tools).

    Args:
        max_output_bytes: outputs longer than this are truncated with a note.
    """

    def __init__(self, *, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES) -> None:
        self._runner = ToolRunner(max_output_bytes=max_output_bytes)

    async def call(self, spec: ToolSpec, call_id: str, arguments_json: str) -> ToolOutcome:
        """Run one call within ``spec.timeout_s``; never raises except on cancellation."""
        started = time.perf_counter()
        try:
            arguments = decode_arguments(arguments_json)
        except ValueError as error:
            return ToolOutcome.failure(
                "invalid_arguments", str(error), call_id=call_id, name=spec.name
            )
        try:
            reply = await asyncio.wait_for(
                self._runner.invoke(spec.ref, arguments), timeout=spec.timeout_s
            )
        except TimeoutError:
            return ToolOutcome.failure(
                "timeout",
                f"the function did not finish within {spec.timeout_s:g} s",
                call_id=call_id,
                name=spec.name,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        latency_ms = (time.perf_counter() - started) * 1000
        return ToolOutcome.from_reply(reply, call_id=call_id, name=spec.name, latency_ms=latency_ms)
