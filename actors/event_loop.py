"""Which asyncio event loop voxray's processes run on: uvloop where it is installed.

Every conversation exchanges a websocket message per 20 ms frame each way, so the event loop's
own cost per callback and per socket read and write is a large share of a conversation's CPU.
uvloop (libuv) does that work in C. Ray already runs its workers' event loops on uvloop when the
package is importable (``RAY_USE_UVLOOP``, on by default), so installing it moves the session
and host actors over; :func:`run` does the same for the processes voxray starts itself (the
simulator and the benchmarks' servers). Measured with a bare aiohttp websocket client and
server at 20 ms both ways, 100 connections: the client 0.34 to 0.45 → 0.27 to 0.28 % of a core per
connection and the server 0.38 to 0.48 → 0.22 to 0.25 %.

``VOXRAY_USE_UVLOOP=0`` (or Ray's ``RAY_USE_UVLOOP=0``) keeps the standard loop, for
comparison or to rule uvloop out.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_factory", "run"]

_T = TypeVar("_T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop constructor when installed and not switched off, else asyncio's."""
    if os.environ.get("VOXRAY_USE_UVLOOP", "1") != "0" and os.environ.get(
        "RAY_USE_UVLOOP", "1"
    ) not in ("0", "false", "False"):
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """:func:`asyncio.run` on the loop :func:`loop_factory` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
