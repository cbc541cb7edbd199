"""What the benchmarks' child processes share."""

from __future__ import annotations

import asyncio
import multiprocessing.connection

__all__ = ["until_parent_says_stop"]


async def until_parent_says_stop(conn: multiprocessing.connection.Connection) -> None:
    """Return once the parent writes anything to ``conn`` (or closes it): the stop signal."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(conn.fileno(), stop.set)
    try:
        await stop.wait()
    finally:
        loop.remove_reader(conn.fileno())
