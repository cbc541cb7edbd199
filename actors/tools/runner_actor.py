"""A tool runner as a Ray actor: one process, admission control, and stopping itself cleanly.

The runner decides, in the call's own round trip, whether it has room (see
:mod:`voxray.actors.tools.protocol`): a sync call needs the runner to itself, async calls share it
up
to a limit. That rule is what makes stopping a hung sync function safe: killing its process can
only take that one call with it.

When a call cannot be stopped from inside (a sync function past its timeout or cancelled, or an
async one ignoring its cancellation), the runner stops admitting calls and, once the only calls
left are the stuck ones, asks the keeper to kill and replace it, telling it which calls it had
admitted. A client whose call then fails with the process knows from the keeper whether its
call ran (see :data:`~voxray.actors.tools.protocol.VERDICT_NOT_STARTED`).

Created with ``max_restarts=0, max_task_retries=0``: Ray would otherwise re-run an in-flight
call on a restarted actor, and tool calls have side effects.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import ray
from voxray.actors.tools.metrics import ToolCounters, snapshot_all
from voxray.actors.tools.protocol import (
    BUSY,
    DONE,
    RETIRING,
    CallReply,
    CallRequest,
    PingReply,
    View,
)
from voxray.actors.tools.runner import AbandonReason, ToolRunner

__all__ = ["RunnerActor", "RunnerConfig", "ray_method"]

_RECENT_CALLS: Final = 512
"""Finished calls remembered for the keeper: their replies may still be on their way."""

_log = logging.getLogger(__name__)
_F = TypeVar("_F", bound=Callable[..., Any])


def ray_method(**options: Any) -> Callable[[_F], _F]:
    """``ray.method`` with the decorated method's signature kept (ray is untyped for mypy)."""
    decorator: Callable[[_F], _F] = ray.method(**options)
    return decorator


@dataclass(frozen=True)
class RunnerConfig:
    """Who a runner is and what it may run at once."""

    slot: int
    generation: int
    keeper: Any
    max_async_calls: int
    max_output_bytes: int
    kill_grace_s: float


class _RunnerProcess:
    """The body of a runner actor. Admission state lives on its event loop (default group)."""

    def __init__(self, config: RunnerConfig) -> None:
        self._config = config
        self._runner = ToolRunner(
            max_output_bytes=config.max_output_bytes,
            kill_grace_s=config.kill_grace_s,
        )
        self._exclusive = False
        self._shared = 0
        self._reservations: dict[str, tuple[bool, asyncio.TimerHandle]] = {}
        self._tickets = itertools.count()
        self._stopping = False  # admits nothing more; retires once only stuck calls are left
        self._retire_sent = False
        self._turned_away = False
        self._view: View | None = None
        self._running: dict[str, tuple[float, bool]] = {}  # call key -> (deadline, exclusive)
        self._stuck: dict[str, AbandonReason] = {}
        self._recent: deque[str] = deque(maxlen=_RECENT_CALLS)
        self._idle_since = time.monotonic()
        # Figures are read by ping on the health group's thread; the lock keeps swaps whole.
        self._figures_lock = threading.Lock()
        self._figures: dict[str, ToolCounters] = {}

    # ------------------------------------------------------------------ calls

    @ray_method(enable_task_events=False)
    async def invoke(self, request: CallRequest) -> CallReply:
        """Run one call if there is room for it; see
        :data:`~voxray.actors.tools.protocol.CallRequest`."""
        call_key, name, ref, arguments, exclusive, timeout_s, ticket, version = request
        view = self._view if self._view is not None and self._view.version > version else None
        if not self._claim(exclusive, ticket):
            return CallReply(RETIRING if self._stopping else BUSY, "", None, view)
        started = time.perf_counter()
        self._running[call_key] = (time.monotonic() + timeout_s, exclusive)
        try:
            reply = await self._runner.invoke(
                ref,
                arguments,
                timeout_s=timeout_s,
                on_abandoned=functools.partial(self._abandoned, call_key),
            )
        except BaseException:
            # Cancelled calls (ray.cancel) are not counted, as the session does not count them.
            self._finish(call_key, exclusive)
            raise
        latency_ms = (time.perf_counter() - started) * 1000
        with self._figures_lock:
            counters = self._figures.get(name)
            if counters is None:
                counters = self._figures[name] = ToolCounters()
            counters.record(reply.error_type, latency_ms)
        # After counting: finishing may retire the runner, and its figures go with the request.
        self._finish(call_key, exclusive)
        return CallReply(DONE, reply.output, reply.error_type, view)

    @ray_method(enable_task_events=False)
    async def reserve(self, exclusive: bool, ttl_s: float) -> str:
        """Hold room for one call for ``ttl_s``; the ticket, or ``""`` when there is none."""
        if not self._admissible(exclusive):
            self._turned_away = True
            return ""
        self._occupy(exclusive)
        ticket = f"t{next(self._tickets)}"
        expiry = asyncio.get_running_loop().call_later(ttl_s, self._expire, ticket)
        self._reservations[ticket] = (exclusive, expiry)
        return ticket

    @ray_method(enable_task_events=False)
    async def set_view(self, view: View) -> None:
        """The keeper's newest list of runners, handed on to clients that have an older one."""
        if self._view is None or view.version > self._view.version:
            self._view = view

    async def retire_if_idle(self, min_idle_s: float) -> bool:
        """Stop admitting calls if none has run or been reserved for ``min_idle_s``.

        Whether it did. The wait matters: a reply sent just before may still be on its way, and
        a call whose runner is then killed must not be taken for one that never ran.
        """
        busy = self._exclusive or self._shared
        if busy or self._stopping or time.monotonic() - self._idle_since < min_idle_s:
            return False
        self._retire_sent = True  # the keeper asked: it needs no message
        self._stop_admitting()
        return True

    # Its own concurrency group (own thread and loop): answers even while the default group's
    # loop is blocked by a misbehaving async tool, which is how the keeper finds such runners.
    @ray_method(concurrency_group="health", enable_task_events=False)
    def ping(self) -> PingReply:
        """Load, idleness, lateness and the figures gathered since the last ping."""
        now = time.monotonic()
        running = list(self._running.values())
        late_s = max((now - deadline for deadline, _ in running), default=0.0)
        busy = self._exclusive or self._shared > 0
        idle_s = 0.0 if busy else now - self._idle_since
        with self._figures_lock:
            figures, self._figures = self._figures, {}
        return PingReply(
            len(running), idle_s, max(late_s, 0.0), self._stopping, snapshot_all(figures)
        )

    # ------------------------------------------------------------------ admission

    def _admissible(self, exclusive: bool) -> bool:
        if self._stopping or self._exclusive:
            return False
        if exclusive:
            return self._shared == 0
        return self._shared < self._config.max_async_calls

    def _claim(self, exclusive: bool, ticket: str) -> bool:
        reservation = self._reservations.pop(ticket, None) if ticket else None
        if reservation is not None:
            reservation[1].cancel()
            if reservation[0] == exclusive:
                return True  # its room was taken when it was reserved
            self._release(reservation[0])
        if not self._admissible(exclusive):
            self._turned_away = True
            return False
        self._occupy(exclusive)
        return True

    def _occupy(self, exclusive: bool) -> None:
        if exclusive:
            self._exclusive = True
        else:
            self._shared += 1

    def _release(self, exclusive: bool) -> None:
        if exclusive:
            self._exclusive = False
        else:
            self._shared -= 1
        if not (self._exclusive or self._shared):
            self._idle_since = time.monotonic()
        if self._stopping:
            self._retire_when_drained()
        elif self._turned_away and self._admissible(exclusive=False):
            # Someone was refused while this runner was full; the keeper may be holding them.
            self._turned_away = False
            self._config.keeper.runner_freed.remote(self._config.slot, self._config.generation)

    def _expire(self, ticket: str) -> None:
        reservation = self._reservations.pop(ticket, None)
        if reservation is not None:
            self._release(reservation[0])

    def _finish(self, call_key: str, exclusive: bool) -> None:
        self._running.pop(call_key, None)
        self._recent.append(call_key)
        if exclusive and call_key in self._stuck:
            # Its thread runs on: the runner stays taken until the keeper kills it.
            self._retire_when_drained()
            return
        self._release(exclusive)

    # ------------------------------------------------------------------ stopping

    def _abandoned(self, call_key: str, ref: str, reason: AbandonReason) -> None:
        _log.warning(
            "tool %s still running after %s (call %s): this runner will be replaced",
            ref,
            reason,
            call_key,
        )
        self._stuck[call_key] = reason
        self._stop_admitting()
        # Soon, not now: a call reporting its own timeout still has its reply to send (and its
        # figures to count), and finishing it retires the runner anyway. A call stuck for good
        # never finishes; this is what retires the runner then.
        asyncio.get_running_loop().call_soon(self._retire_when_drained)

    def _stop_admitting(self) -> None:
        self._stopping = True
        # Reserved room is given back: a ticket holder will be told RETIRING and go elsewhere.
        for _, expiry in self._reservations.values():
            expiry.cancel()
        for exclusive, _ in list(self._reservations.values()):
            self._release_quietly(exclusive)
        self._reservations.clear()

    def _release_quietly(self, exclusive: bool) -> None:
        if exclusive:
            self._exclusive = False
        else:
            self._shared -= 1

    def _retire_when_drained(self) -> None:
        if self._retire_sent:
            return
        if any(key not in self._stuck for key in self._running):
            return  # innocent calls finish first; the keeper kills after they have answered
        self._retire_sent = True
        with self._figures_lock:
            figures, self._figures = self._figures, {}
        self._config.keeper.retire.remote(
            self._config.slot,
            self._config.generation,
            dict(self._stuck),
            [*self._recent, *self._running],
            snapshot_all(figures),
        )


RunnerActor: Any = ray.remote(
    num_cpus=0,  # runners mostly wait; they must not block the scheduling of sessions
    max_restarts=0,
    max_task_retries=0,
    concurrency_groups={"health": 1},
)(_RunnerProcess)
"""The Ray actor class of a runner; the keeper creates them with ``.options(...)``."""
