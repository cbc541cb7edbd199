"""Ending tasks without swallowing the caller's own cancellation.

Awaiting a cancelled task inside ``contextlib.suppress(asyncio.CancelledError)`` swallows a
cancellation of the *caller* too, which then runs on as if nothing had happened: a
conversation's dispatch loop, cancelled by ``aclose()`` while it closed the previous connection
of a rollover, went on to wait on the next connection, and ``aclose()`` waited for it forever.
``asyncio.wait`` raises the caller's cancellation and never the awaited tasks' outcomes.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel ``tasks`` (None entries are skipped) and wait until they have ended.

    Their results and exceptions are dropped; a cancellation of the caller is raised.
    """
    pending = {task for task in tasks if task is not None}
    for task in pending:
        task.cancel()
    if not pending:
        return
    await asyncio.wait(pending)
    for task in pending:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
