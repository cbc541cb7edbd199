"""Arming and firing the fault actions of one connection.

The connection's writer is the only place where faults act on the socket, so they keep their
order relative to events: a fault that fires "after N events" goes off right after the N-th
frame was written, and a timed one travels through the outbound queue like an event. This
module decides *when* (triggers, counters, delays); :mod:`voxray.actors.simulator.connection` does
the socket work (drop, close, send).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from voxray.actors.simulator.faults import DelayFault, FaultAction, Quirk, QuirksFault

__all__ = ["OUTPUT_DELTA_TYPES", "FaultRunner"]

OUTPUT_DELTA_TYPES: Final = frozenset(
    {
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_text.delta",
        "response.text.delta",
        "response.function_call_arguments.delta",
    }
)
"""Types whose first occurrence in a response marks it as "mid-response"."""


@dataclass
class _Watch:
    action: FaultAction
    events_at_arm: int
    responses_at_arm: int


@dataclass
class _Delay:
    fault: DelayFault
    remaining: int | None = field(default=None)


class FaultRunner:
    """Per-connection fault state: armed triggers, active delays and quirks.

    ``fire`` queues an action for the writer (used for immediate and timed triggers).
    """

    def __init__(self, fire: Callable[[FaultAction], Awaitable[None]]) -> None:
        self._fire = fire
        self._tasks: asyncio.TaskGroup | None = None
        self._timers: set[asyncio.Task[None]] = set()
        self._watches: list[_Watch] = []
        self._delays: list[_Delay] = []
        self.quirks: set[Quirk] = set()
        self._sent = 0
        self._responses = 0
        self._awaiting_first_delta = False

    def start(self, tasks: asyncio.TaskGroup) -> None:
        """Timed triggers run as tasks of ``tasks`` (the connection's fate)."""
        self._tasks = tasks

    async def arm(self, action: FaultAction) -> None:
        """Watch for ``action``'s trigger from now on (or fire it at once if it has none)."""
        watched = (action.after_events, action.mid_response, action.on_event)
        if any(trigger is not None for trigger in watched):
            self._watches.append(_Watch(action, self._sent, self._responses))
        elif action.after_s is not None:
            assert self._tasks is not None, "start() first"
            timer = self._tasks.create_task(self._after(action.after_s, action), name="sim-fault")
            self._timers.add(timer)
            timer.add_done_callback(self._timers.discard)
        else:
            await self._fire(action)

    def stop(self) -> None:
        """The connection is over: cancel the timed triggers."""
        for timer in list(self._timers):
            timer.cancel()

    async def _after(self, seconds: float, action: FaultAction) -> None:
        await asyncio.sleep(seconds)
        await self._fire(action)

    def enable(self, action: FaultAction) -> bool:
        """Apply a stateful action (delay, quirks); False if it needs the socket instead."""
        if isinstance(action, DelayFault):
            self._delays.append(_Delay(action, action.count))
            return True
        if isinstance(action, QuirksFault):
            self.quirks.update(action.names)
            return True
        return False

    @property
    def holds_events(self) -> bool:
        """A delay fault is active: events must pass through the writer, which holds them."""
        return bool(self._delays)

    def delay_s(self, event_type: str) -> float:
        """How long to hold an event of ``event_type`` before sending it."""
        if not self._delays:
            return 0.0
        total = 0.0
        for delay in self._delays:
            wanted = delay.fault.events
            if wanted is not None and event_type not in wanted:
                continue
            total += delay.fault.ms / 1000
            if delay.remaining is not None:
                delay.remaining -= 1
        self._delays = [d for d in self._delays if d.remaining is None or d.remaining > 0]
        return total

    def observe(self, event_type: str) -> list[FaultAction]:
        """A frame of ``event_type`` was sent; returns the actions whose trigger it completes."""
        self._sent += 1
        first_delta = False
        if event_type == "response.created":
            self._responses += 1
            self._awaiting_first_delta = True
        elif self._awaiting_first_delta and event_type in OUTPUT_DELTA_TYPES:
            self._awaiting_first_delta = False
            first_delta = True
        if not self._watches:
            return []
        due: list[_Watch] = []
        kept: list[_Watch] = []
        for watch in self._watches:
            action = watch.action
            if action.after_events is not None:
                hit = self._sent - watch.events_at_arm >= action.after_events
            elif action.mid_response is not None:
                hit = first_delta and (
                    self._responses - watch.responses_at_arm == action.mid_response
                )
            else:
                hit = event_type == action.on_event
            (due if hit else kept).append(watch)
        self._watches = kept
        return [watch.action for watch in due]
