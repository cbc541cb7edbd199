"""The warm pool follows the arrival rate: after a burst a node keeps that many idle actors
(within the bounds), so the next burst is warm; when arrivals stop, the surplus goes.

Plain asyncio with a stand-in actor class (what the pool calls of it: ``options().remote()``
and ``health.remote()``), so no Ray process is started."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from voxray.actors.supervision.health import SessionHealth
from voxray.actors.supervision.warm_pool import PooledActor, WarmPool

NODE = "ab" * 28  # a node id is 56 hex digits


class _Health:
    async def _answer(self) -> SessionHealth:
        return SessionHealth(
            progress=0, node_id=NODE, pid=1, rss_mb=60.0, uss_mb=50.0, node_available_mb=None
        )

    def remote(self) -> Any:
        return self._answer()


class _Handle:
    def __init__(self) -> None:
        self.health = _Health()


class _ActorClass:
    started = 0

    def options(self, **_: object) -> _ActorClass:
        return self

    def remote(self) -> _Handle:
        _ActorClass.started += 1
        return _Handle()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _settled(pool: WarmPool) -> None:
    for _ in range(200):
        stats = pool.statistics()
        if not stats.starting:
            return
        await asyncio.sleep(0)
    raise AssertionError("the pool never settled")


@pytest.fixture
def killed(monkeypatch: pytest.MonkeyPatch) -> list[PooledActor]:
    stopped: list[PooledActor] = []
    monkeypatch.setattr(WarmPool, "_kill", lambda self, actor: stopped.append(actor))
    return stopped


async def test_a_burst_grows_the_pool_and_a_quiet_spell_shrinks_it(
    killed: list[PooledActor],
) -> None:
    clock = _Clock()
    pool = WarmPool(
        actor_class=_ActorClass(),
        namespace="test",
        per_node=2,
        recycle_after=20,
        recycle_above_mb=300,
        start_timeout_s=5,
        max_per_node=10,
        rate_window_s=60,
        clock=clock,
        max_parallel_starts=10,
    )
    pool.set_nodes([NODE])
    await _settled(pool)
    assert pool.statistics().idle == {NODE: 2}
    # A burst of ten: two are warm, eight wait for cold starts (the first burst pays).
    first = [pool.take_nowait(NODE, arrival=True) for _ in range(10)]
    assert sum(actor is not None for actor in first) == 2
    await _settled(pool)
    assert pool.target(NODE) == 10
    assert pool.statistics().idle == {NODE: 10}
    # The next burst of ten is all warm.
    clock.now += 5
    second = [pool.take_nowait(NODE, arrival=True) for _ in range(10)]
    assert all(actor is not None for actor in second)
    await _settled(pool)
    assert pool.statistics().idle == {NODE: 10}  # capped at max_per_node, not 20
    # Arrivals stop: once they leave the window the surplus is stopped, per_node stays.
    clock.now += 61
    assert pool.trim() == 8
    assert pool.statistics().idle == {NODE: 2} and len(killed) == 8
    # Batch work that takes actors does not grow the pool.
    for _ in range(5):
        pool.take_nowait(NODE)
    await _settled(pool)
    assert pool.target(NODE) == 2
    assert pool.statistics().idle == {NODE: 2}
    await pool.aclose()
