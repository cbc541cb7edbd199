"""Which asyncio event loop voxray's processes run on: uvloop where it is installed.

Every conversation exchanges a websocket message per 20 ms frame each way, so the event loop's
own cost per callback and per socket read and write is a large share of a conversation's CPU.
uvloop (libuv) does that work in C. Ray already runs its workers' event loops on uvloop when the
package is importable (``RAY_USE_UVLOOP``, on by default), so installing it moves the session
and host actors over; :func:`run` does the same for the processes voxray starts itself (the
simulator and the benchmarks' servers). ``voxray bench wire`` measures the gain on bare aiohttp
websocket traffic at 20 ms both ways: client + server CPU on uvloop is 0.87 of asyncio's at
100 connections and 0.78 at 200 (medians of three alternating pairs, one run).

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
