"""A per-conversation watchdog, run inside a host actor that holds several conversations.

With one conversation per actor the supervisor kills a stalled actor; in a packed host that would
take every other conversation along. So the host guards each conversation itself: a conversation
whose own progress counter (events in + audio out) has not moved for ``stall_timeout_s`` has its
task cancelled (its websocket closes) and is reported ``lost``; nothing else in the process is
touched. The supervisor still kills a host whose *whole* progress stops (a wedged event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from voxray.actors.conversation.result import SessionResult

__all__ = ["run_guarded"]

_CANCEL_GRACE_S = 5.0


async def run_guarded(
    work: Awaitable[SessionResult],
    progress: Callable[[], int],
    *,
    stall_timeout_s: float,
    check_every_s: float,
    name: str,
    clock: Callable[[], float] = time.monotonic,
) -> SessionResult:
    """Await ``work`` while ``progress()`` moves; cancel it once still for ``stall_timeout_s``.

    Exceptions of ``work`` propagate (the caller reports them as a failed conversation);
    cancelling this coroutine cancels ``work`` too.
    """
    task: asyncio.Future[SessionResult] = asyncio.ensure_future(work)
    if isinstance(task, asyncio.Task):
        task.set_name(name)
    last, last_change = progress(), clock()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=check_every_s)
            if done:
                return task.result()
            now = progress()
            if now != last:
                last, last_change = now, clock()
                continue
            stalled_s = clock() - last_change
            if stalled_s >= stall_timeout_s:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(task, timeout=_CANCEL_GRACE_S)
                return SessionResult.lost(
                    f"no progress for {stalled_s:.1f} s "
                    f"(limit {stall_timeout_s:g} s); its conversation was cancelled"
                )
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, timeout=_CANCEL_GRACE_S)
        raise
