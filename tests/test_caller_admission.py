"""A simulated caller's call holds two provider sessions against the key's cap, claimed at once."""

from __future__ import annotations

import asyncio

import pytest
from voxray.actors.errors import CapacityError
from voxray.actors.supervision.admission import Admission
from voxray.actors.supervision.placement import NodeInfo, Placement


def _admission(limit: int) -> Admission:
    placement = Placement(max_per_node=100, min_available_mb=256)
    node = NodeInfo(node_id="node-0", address="127.0.0.1", alive=True, cpus=1, is_head=False)
    placement.update_nodes([node])
    return Admission(
        limit_per_key=limit,
        max_queued=100,
        reserve_node=placement.reserve,
        release_node=placement.release,
    )


async def test_a_call_counts_two_sessions_and_waits_for_both() -> None:
    admission = _admission(limit=3)
    call = await admission.claim("key", "job", sessions=2)
    single = await admission.claim("key", "job")
    assert admission.live_for("key") == 3
    second_call = asyncio.ensure_future(admission.claim("key", "job", sessions=2))
    await asyncio.sleep(0)  # the claim runs to its wait
    assert not second_call.done() and admission.queued == 1
    admission.release(single)  # one free session is not enough for a call
    await asyncio.sleep(0)
    assert not second_call.done()
    admission.release(call)
    granted = await asyncio.wait_for(second_call, timeout=1)
    assert (granted.sessions, admission.live_for("key")) == (2, 2)
    admission.release(granted)
    assert admission.live_for("key") == 0


async def test_racing_calls_and_scripted_runs_never_overshoot_nor_deadlock() -> None:
    admission = _admission(limit=3)
    peak = 0

    async def run(sessions: int) -> None:
        nonlocal peak
        slot = await admission.claim("key", "job", sessions=sessions)
        peak = max(peak, admission.live_for("key"))
        await asyncio.sleep(0.001)
        admission.release(slot)

    # Claimed one at a time, two calls holding one session each could wait forever.
    runs = [run(2 if i % 2 else 1) for i in range(40)]
    await asyncio.wait_for(asyncio.gather(*runs), timeout=10)
    assert peak <= 3 and (admission.live, admission.queued) == (0, 0)


async def test_a_call_larger_than_the_cap_is_refused_at_once() -> None:
    admission = _admission(limit=1)
    with pytest.raises(CapacityError, match="2 sessions exceeds the cap of 1"):
        await admission.claim("key", "job", sessions=2)
