"""Ending tasks: ``cancel_and_wait`` keeps the caller's cancellation, and the player keeps a
microphone's own failure (both once lost theirs to ``suppress(CancelledError)``)."""

from __future__ import annotations

import asyncio

import pytest
from voxray.actors.cancel import cancel_and_wait


async def _stops_slowly(stopping: asyncio.Event) -> None:
    try:
        await asyncio.sleep(60)
    finally:
        stopping.set()
        await asyncio.sleep(0.05)  # clean-up after the cancel, like closing a socket


async def test_a_caller_cancelled_while_waiting_stays_cancelled() -> None:
    stopping = asyncio.Event()
    child = asyncio.create_task(_stops_slowly(stopping))
    await asyncio.sleep(0)
    went_on: list[bool] = []

    async def closer() -> None:
        await cancel_and_wait(child)
        went_on.append(True)  # must not run: the closer itself was cancelled

    caller = asyncio.create_task(closer())
    await stopping.wait()  # the closer is now waiting for the child's clean-up
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert not went_on
    await asyncio.wait({child})


async def test_tasks_end_and_their_errors_are_dropped() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    failing = asyncio.create_task(fails())
    sleeping = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)
    await cancel_and_wait(failing, None, sleeping)
    assert failing.done() and sleeping.cancelled()


async def test_a_microphone_that_failed_on_its_own_shows_in_the_result() -> None:
    from voxray.actors.conversation.player import _failure_of
    from voxray.actors.errors import ConnectionLostError, VoxrayError

    async def raises(error: Exception) -> None:
        raise error

    lost = asyncio.create_task(raises(ConnectionLostError("the socket is closed")))
    bug = asyncio.create_task(raises(ZeroDivisionError("division by zero")))
    stopped = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)
    await cancel_and_wait(lost, bug, stopped)
    assert isinstance(_failure_of(lost), ConnectionLostError)
    failure = _failure_of(bug)
    assert isinstance(failure, VoxrayError) and "ZeroDivisionError" in failure.message
    assert _failure_of(stopped) is None and _failure_of(None) is None
