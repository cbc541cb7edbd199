"""The session side of function calling: route a call by name, track it, count it.

:class:`ToolExecutor` is plain asyncio and knows nothing of Ray: it runs calls through a
:class:`ToolBackend`: the Ray :class:`~voxray.actors.tools.pool.ToolPool` in production, the
:class:`~voxray.actors.tools.inprocess.InProcessToolBackend` in tests of the conversation engine.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from typing import Final, Protocol

from voxray.actors.errors import ToolSpecError
from voxray.actors.tools.metrics import ToolCounters, ToolStats
from voxray.actors.tools.outcome import ToolOutcome
from voxray.actors.tools.spec import ToolSpec

__all__ = [
    "UNKNOWN_TOOL_KEY",
    "ExecutorState",
    "ToolBackend",
    "ToolExecutor",
    "ToolStats",
]

UNKNOWN_TOOL_KEY: Final = "<unknown>"
"""Statistics key for calls to undeclared names (not a valid tool name, so it cannot collide).

One key for all of them: the model chooses these names, and per-name entries would let it grow
the statistics without bound.
"""


class ToolBackend(Protocol):
    """Where function calls run. Implementations never raise for a tool's problems."""

    async def call(self, spec: ToolSpec, call_id: str, arguments_json: str) -> ToolOutcome:
        """Run one call and return its outcome; only cancellation propagates."""
        ...


class ExecutorState(enum.Enum):
    """Where a :class:`ToolExecutor` is in its life."""

    OPEN = "open"
    CLOSED = "closed"


class ToolExecutor:
    """Runs the function calls of one conversation through a backend.

    Args:
        specs: the tools the agent declares; names must be unique.
        backend: where calls run.

    Raises:
        ToolSpecError: two specs share a name.
    """

    def __init__(self, specs: Sequence[ToolSpec], backend: ToolBackend) -> None:
        self._specs: dict[str, ToolSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ToolSpecError(f"duplicate tool name {spec.name!r}", location=spec.ref)
            self._specs[spec.name] = spec
        self._backend = backend
        self._running: set[asyncio.Task[ToolOutcome]] = set()
        self._counters: dict[str, ToolCounters] = {}
        self.state = ExecutorState.OPEN

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        """The declared tools, in declaration order."""
        return tuple(self._specs.values())

    @property
    def running(self) -> int:
        """Calls in progress."""
        return len(self._running)

    async def run(self, name: str, call_id: str, arguments_json: str) -> ToolOutcome:
        """Run the call the model made and return the outcome to send back.

        An unknown ``name`` yields an ``unknown_tool`` outcome without touching the backend.
        If the caller is cancelled, or :meth:`aclose` runs meanwhile, the call is cancelled and
        :class:`asyncio.CancelledError` propagates.

        Raises:
            RuntimeError: the executor is closed (a programming error: the session is over).
        """
        if self.state is ExecutorState.CLOSED:
            raise RuntimeError("ToolExecutor is closed")
        spec = self._specs.get(name)
        if spec is None:
            known = ", ".join(self._specs) or "none"
            outcome = ToolOutcome.failure(
                "unknown_tool",
                f"no function named {name!r}; available: {known}",
                call_id=call_id,
                name=name,
            )
            self._counters_for(UNKNOWN_TOOL_KEY).record(outcome.error_type, outcome.latency_ms)
            return outcome
        task = asyncio.create_task(
            self._backend.call(spec, call_id, arguments_json), name=f"tool-{name}-{call_id}"
        )
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        # Awaiting the task (not the coroutine) lets aclose() cancel it; cancelling this caller
        # cancels the task too, because a cancelled await cancels what it waits on.
        outcome = await task
        self._counters_for(name).record(outcome.error_type, outcome.latency_ms)
        return outcome

    def statistics(self) -> dict[str, ToolStats]:
        """Per-tool figures, keyed by tool name (:data:`UNKNOWN_TOOL_KEY` for unknown names).

        Latency is as this session saw it: queueing and Ray included. Cancelled calls are not
        counted.
        """
        return {name: counters.snapshot() for name, counters in self._counters.items()}

    async def aclose(self) -> None:
        """Cancel every running call and wait for them to stop. Idempotent."""
        self.state = ExecutorState.CLOSED
        running = list(self._running)
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    async def __aenter__(self) -> ToolExecutor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _counters_for(self, key: str) -> ToolCounters:
        counters = self._counters.get(key)
        if counters is None:
            counters = self._counters[key] = ToolCounters()
        return counters
