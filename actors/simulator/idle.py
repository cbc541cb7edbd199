"""The ``turn_detection.idle_timeout_ms`` timer of one session (protocol reference §6.11).

Armed when the assistant has finished a response (and when the option is switched on), stopped
when the user starts speaking or a response starts; when it runs out the session commits a
silent user turn and checks in. Pacing follows the simulator's ``speed`` like its audio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["IdleTimer"]


class IdleTimer:
    """One restartable timer whose expiry calls ``on_expiry(armed_at_ms)``."""

    def __init__(self, on_expiry: Callable[[float], Awaitable[None]], *, speed: float) -> None:
        self._on_expiry = on_expiry
        self._speed = speed
        self._tasks: asyncio.TaskGroup | None = None
        self._task: asyncio.Task[None] | None = None
        self._expiring = False

    def start(self, tasks: asyncio.TaskGroup) -> None:
        """Timers run as tasks of ``tasks`` (the connection's fate)."""
        self._tasks = tasks

    @property
    def armed(self) -> bool:
        """Whether the timer is running."""
        return self._task is not None and not self._task.done() and not self._expiring

    def arm(self, timeout_ms: int, position_ms: float) -> None:
        """(Re)start: expire after ``timeout_ms`` of silence from input position ``position_ms``."""
        self.stop()
        if self._tasks is None:
            return
        self._task = self._tasks.create_task(self._wait(timeout_ms, position_ms), name="sim-idle")

    def stop(self) -> None:
        """Stop the timer if it runs (an expiry being handled is not interrupted)."""
        if self._task is not None and not self._task.done() and not self._expiring:
            self._task.cancel()
            self._task = None

    def close(self) -> None:
        """The session is over: cancel whatever runs."""
        if self._task is not None:
            self._task.cancel()

    async def _wait(self, timeout_ms: int, position_ms: float) -> None:
        await asyncio.sleep(timeout_ms / 1000 / self._speed)
        self._expiring = True  # from here on, stop() must not cancel the check-in
        try:
            await self._on_expiry(position_ms)
        finally:
            self._expiring = False
