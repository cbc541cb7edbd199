"""Admission and placement without Ray: caps hold under races, the queue is fair and bounded."""

from __future__ import annotations

import asyncio
import pickle

import pytest
from voxray.actors.errors import CapacityError
from voxray.actors.supervision.admission import Admission, Slot, fingerprint
from voxray.actors.supervision.placement import NodeInfo, Placement


def _node(node_id: str, *, alive: bool = True) -> NodeInfo:
    return NodeInfo(node_id=node_id, address="127.0.0.1", alive=alive, cpus=1, is_head=False)


def _admission(
    *, limit: int, max_queued: int = 100, nodes: int = 1, per_node: int = 100
) -> tuple[Admission, Placement]:
    placement = Placement(max_per_node=per_node, min_available_mb=256)
    placement.update_nodes([_node(f"node-{i}") for i in range(nodes)])
    admission = Admission(
        limit_per_key=limit,
        max_queued=max_queued,
        reserve_node=placement.reserve,
        release_node=placement.release,
    )
    return admission, placement


async def test_racing_claims_never_overshoot_the_key_cap() -> None:
    admission, _ = _admission(limit=5)
    peak = 0
    done = 0

    async def session() -> None:
        nonlocal peak, done
        slot = await admission.claim("key-a", "job")
        peak = max(peak, admission.live_for("key-a"))
        await asyncio.sleep(0.001)
        admission.release(slot)
        admission.release(slot)  # a second release is a no-op, not a double free
        done += 1

    await asyncio.gather(*(session() for _ in range(60)))
    assert (peak, done, admission.live, admission.queued) == (5, 60, 0, 0)


async def test_caps_are_per_key() -> None:
    admission, _ = _admission(limit=1)
    first = await admission.claim("key-a", "job")
    other_key = await asyncio.wait_for(admission.claim("key-b", "job"), timeout=1)
    blocked = asyncio.ensure_future(admission.claim("key-a", "job"))
    await asyncio.sleep(0.01)
    assert not blocked.done() and admission.queued == 1
    admission.release(first)
    assert (await asyncio.wait_for(blocked, timeout=1)).quota == "key-a"
    admission.release(other_key)


async def test_sessions_spread_over_nodes_within_their_maxima() -> None:
    admission, placement = _admission(limit=100, nodes=3, per_node=2)
    slots = [await admission.claim("key", "job") for _ in range(6)]
    assert sorted(load.live for load in placement.loads()) == [2, 2, 2]
    assert [slot.node_id for slot in slots[:3]] == ["node-0", "node-1", "node-2"]
    seventh = asyncio.ensure_future(admission.claim("key", "job"))
    await asyncio.sleep(0.01)
    assert not seventh.done(), "every node is at its maximum"
    admission.release(slots[4])
    assert (await asyncio.wait_for(seventh, timeout=1)).node_id == slots[4].node_id


async def test_lost_and_low_memory_nodes_get_no_sessions() -> None:
    admission, placement = _admission(limit=100, nodes=3)
    placement.update_nodes([_node("node-0"), _node("node-1", alive=False), _node("node-2")])
    placement.report_memory("node-2", 100.0)  # below the 256 MB floor
    slots = [await admission.claim("key", "job") for _ in range(3)]
    assert {slot.node_id for slot in slots} == {"node-0"}
    placement.report_memory("node-0", 500.0)
    placement.report_memory("node-2", 4000.0)
    assert (await admission.claim("key", "job")).node_id == "node-2"


async def test_waiting_claims_are_served_round_robin_across_jobs() -> None:
    admission, _ = _admission(limit=1)
    holder = await admission.claim("key", "busy")
    order: list[str] = []

    async def claim(job: str) -> None:
        slot = await admission.claim("key", job)
        order.append(job)
        await asyncio.sleep(0)
        admission.release(slot)

    big = [asyncio.ensure_future(claim("big")) for _ in range(6)]
    await asyncio.sleep(0.01)  # the big job queues first...
    small = [asyncio.ensure_future(claim("small")) for _ in range(2)]
    await asyncio.sleep(0.01)
    assert admission.statistics().queued_per_job == {"big": 6, "small": 2}
    admission.release(holder)
    await asyncio.gather(*big, *small)
    # ...but the small one is not starved behind it.
    assert order[:4] == ["big", "small", "big", "small"]
    assert order.count("big") == 6


async def test_a_full_queue_raises_capacity_error_with_the_numbers() -> None:
    admission, _ = _admission(limit=2, max_queued=3)
    held = [await admission.claim("key", "job") for _ in range(2)]
    waiting = [asyncio.ensure_future(admission.claim("key", "job")) for _ in range(3)]
    await asyncio.sleep(0.01)
    with pytest.raises(CapacityError) as caught:
        await admission.claim("key", "job")
    error = caught.value
    assert (error.limit, error.in_use, error.queued) == (2, 2, 3)
    assert error.retryable
    assert pickle.loads(pickle.dumps(error)).queued == 3
    for slot in held:
        admission.release(slot)
    for future in waiting:
        admission.release(await asyncio.wait_for(future, timeout=1))
    assert (admission.live, admission.queued) == (0, 0)


async def test_cancelled_waiters_leave_no_trace_and_close_refuses_everyone() -> None:
    admission, placement = _admission(limit=1)
    holder = await admission.claim("key", "job")
    cancelled = asyncio.ensure_future(admission.claim("key", "job"))
    refused = asyncio.ensure_future(admission.claim("key", "other"))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    await asyncio.sleep(0.01)
    assert admission.queued == 1
    assert admission.close("draining") == 1
    with pytest.raises(CapacityError, match="draining"):
        await refused
    with pytest.raises(CapacityError, match="draining"):
        await admission.claim("key", "job")
    admission.release(holder)
    assert admission.live == 0 and sum(load.live for load in placement.loads()) == 0


async def test_cancel_job_refuses_only_that_jobs_waiters() -> None:
    admission, _ = _admission(limit=1)
    holder = await admission.claim("key", "a")
    mine = asyncio.ensure_future(admission.claim("key", "a"))
    theirs = asyncio.ensure_future(admission.claim("key", "b"))
    await asyncio.sleep(0.01)
    assert admission.cancel_job("a", "job a stopped") == 1
    with pytest.raises(CapacityError, match="job a stopped"):
        await mine
    admission.release(holder)
    slot: Slot = await asyncio.wait_for(theirs, timeout=1)
    assert slot.job_id == "b"


def test_fingerprints_do_not_reveal_the_key() -> None:
    key = "xai-SECRET-0123456789abcdef"
    salt, other_salt = b"s" * 16, b"t" * 16
    name = fingerprint(key, salt)
    assert name == fingerprint(key, salt)
    assert name != fingerprint(key, other_salt) != fingerprint("another key", salt)
    assert key not in name and "SECRET" not in name and len(name) == len("key-") + 16
