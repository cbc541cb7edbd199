"""Writing a websocket frame without a task switch.

aiohttp's ``send_str``/``send_bytes`` write an uncompressed frame synchronously and only then,
when the socket's buffer is over its limit, wait for it to drain. A writer task fed through a
queue costs a task switch per frame, which at 50 audio frames a second per conversation is a
large share of a conversation's CPU. Driving the send coroutine one step instead completes it on
the spot in the common case; if it stops at the drain wait, the frame is already written and the
future it waits on is returned, for the caller's writer to await before its next frame.

:class:`EagerWriter` holds what an owner's two write paths share: whether its writer task is
busy (then frames must queue behind it, to stay in order) and a drain the writer must await.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, Protocol

__all__ = ["EagerWriter", "FrameSender", "send_eagerly"]


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


class EagerWriter:
    """Frames written at once while the owner's writer task is idle, else queued for it.

    The owner writes with :meth:`write_now` only when its queue is empty and :attr:`busy` is
    False; its writer task calls :meth:`waiting_for_frames` before each wait on the queue and
    :meth:`ready_to_send` after taking a frame from it.
    """

    def __init__(self) -> None:
        self.busy = False
        """The writer task holds frames or must wait for the socket to drain."""
        self._drain: asyncio.Future[Any] | None = None

    def write_now(self, ws: FrameSender, data: str | bytes) -> None:
        """Write one frame at once; raises what the send raised (nothing was written then)."""
        drain = send_eagerly(ws, data)
        if drain is not None:  # the writer waits for the socket before its next frame
            self.busy = True
            self._drain = drain

    def waiting_for_frames(self, *, queue_empty: bool) -> None:
        """The writer is about to wait on its queue: with nothing in it, it is idle."""
        if queue_empty:
            self.busy = False

    async def ready_to_send(self) -> None:
        """The writer took a frame: busy until its queue empties, and first the socket drains
        if a frame written at once left it full."""
        self.busy = True
        if self._drain is not None:
            drain, self._drain = self._drain, None
            with contextlib.suppress(Exception):  # a lost socket shows in the next send
                await drain
