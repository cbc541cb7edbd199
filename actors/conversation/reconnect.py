"""Replacement connections: when to retry, how long to wait, and what a new socket is told.

A dropped session reconnects with jittered backoff; a planned rollover (before the provider's
maximum duration, between turns) reconnects at once. Either way the new socket gets the same
``session.update`` and then the conversation history kept locally, so the model keeps its
context. Fatal causes (refused credentials, an inactivity timeout) are not retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.backoff import Backoff
from voxray.actors.conversation.endpoint import EngineTuning
from voxray.actors.conversation.history import ConversationHistory
from voxray.actors.conversation.session_update import build_session_update
from voxray.actors.errors import ProviderConnectionError, VoxrayError
from voxray.actors.realtime.transport import RealtimeTransport

__all__ = ["Reconnector"]


class Reconnector:
    """Decides about and opens replacement connections for one conversation."""

    def __init__(
        self,
        agent: AgentConfig,
        tuning: EngineTuning,
        history: ConversationHistory,
        make_transport: Callable[[], RealtimeTransport],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._agent = agent
        self._tuning = tuning
        self._history = history
        self._make_transport = make_transport
        self._clock = clock
        self._backoff = Backoff(tuning.reconnect, clock=clock)
        self._connected_at: float | None = None
        self.count = 0

    def connected(self) -> None:
        """A connection is up (the first, or a replacement)."""
        self._backoff.connected()
        self._connected_at = self._clock()

    def rollover_due(self) -> bool:
        """Whether this connection is old enough to be replaced at the next quiet moment."""
        limit = self._tuning.rollover_after_s
        return (
            limit is not None
            and self._connected_at is not None
            and self._clock() - self._connected_at >= limit
        )

    def check_retry(self, cause: VoxrayError) -> None:
        """Raise when a drop must end the session instead of being retried."""
        if not cause.retryable or not self._tuning.reconnect.enabled:
            raise cause
        if not self._backoff.dropped():
            raise ProviderConnectionError(
                "giving up: the connection keeps dropping soon after it opens "
                f"(last: {cause.message})",
                retryable=False,
            )

    async def reconnect(self, cause: VoxrayError, *, planned: bool) -> RealtimeTransport:
        """Open a configured, re-seeded replacement; raises when every attempt failed."""
        last = cause
        for delay in [0.0] if planned else self._backoff.delays():
            await asyncio.sleep(delay)
            transport = self._make_transport()
            try:
                await transport.connect()
            except VoxrayError as error:
                if not error.retryable:
                    raise
                last = error
                continue
            self.connected()
            self.count += 1
            transport.send_nowait(build_session_update(self._agent))
            for seed in self._history.seed_events():
                transport.send_nowait(seed)
            return transport
        raise ProviderConnectionError(f"could not reconnect ({last.message})", retryable=False)
