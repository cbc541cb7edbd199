"""Writing a websocket frame without a task switch.

aiohttp's ``send_str``/``send_bytes`` write an uncompressed frame synchronously and only then,
when the socket's buffer is over its limit, wait for it to drain. A writer task fed through a
queue costs a task switch per frame, which at 50 audio frames a second per conversation is a
large share of a conversation's CPU. Driving the send coroutine one step instead completes it on
the spot in the common case; if it stops at the drain wait, the frame is already written and the
future it waits on is returned, for the caller's writer to await before its next frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol

__all__ = ["FrameSender", "send_eagerly"]


class FrameSender(Protocol):
    """What both aiohttp websocket classes (client and server side) offer."""

    def send_str(self, data: str, compress: int | None = None) -> Coroutine[Any, Any, None]: ...

    def send_bytes(self, data: bytes, compress: int | None = None) -> Coroutine[Any, Any, None]: ...


def send_eagerly(ws: FrameSender, data: str | bytes) -> asyncio.Future[Any] | None:
    """Write one frame now; returns None, or a drain future the next frame must wait for.

    Raises what the send raised; nothing was written then.
    """
    sending = ws.send_str(data) if isinstance(data, str) else ws.send_bytes(data)
    try:
        blocker = sending.send(None)
    except StopIteration:
        return None
    # Suspended at the flow-control wait, after the write: the wait is left to the caller.
    sending.close()
    if not isinstance(blocker, asyncio.Future):
        return None
    # What a Task does with a future its coroutine yielded: without it, the next await of this
    # (still pending) future raises "await wasn't used with future".
    blocker._asyncio_future_blocking = False
    return blocker
