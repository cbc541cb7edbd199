"""Packed hosts: which session actor takes the next conversation when actors hold several.

With ``conversations_per_actor`` = N > 1 a conversation goes to a host on its node (the node was
chosen by placement, exactly as for a single session) that has room: fewer than N running, not
past its lifetime quota, not broken. With none, a warm actor from the pool becomes a new host
(a cold one if the pool is empty). New hosts on a node are made one at a time, so a burst of
arrivals fills one host instead of starting one actor each.

A host whose conversations have all ended goes back to the warm pool, which keeps it warm or
recycles it (lifetime quota, memory) as it does single-session actors. A host that lost a
conversation to its own death takes no new ones.
"""

from __future__ import annotations

import asyncio

from voxray.actors.supervision.warm_pool import PooledActor, WarmPool

__all__ = ["HostPool"]


class HostPool:
    """Open hosts per node, over the warm pool.

    Args:
        pool: where hosts come from and go back to.
        capacity: conversations one host runs at once (N).
        lifetime: conversations a host takes in all before it is recycled.
    """

    def __init__(self, pool: WarmPool, *, capacity: int, lifetime: int) -> None:
        self._pool = pool
        self._capacity = capacity
        self._lifetime = lifetime
        self._open: dict[str, list[PooledActor]] = {}
        self._starting: dict[str, asyncio.Lock] = {}

    async def acquire(self, node_id: str) -> tuple[PooledActor, bool]:
        """A host with room on ``node_id`` (one more conversation claimed on it), and whether
        it was already running (warm).

        Raises:
            SessionLostError: a new host was needed and did not start.
        """
        host = self._with_room(node_id)
        if host is not None:
            return self._claim(host), True
        async with self._starting.setdefault(node_id, asyncio.Lock()):
            host = self._with_room(node_id)  # another arrival may have opened one meanwhile
            if host is not None:
                return self._claim(host), True
            taken = self._pool.take_nowait(node_id)
            host = taken if taken is not None else await self._pool.start_actor(node_id)
            host.active = 1  # the pool counted this first conversation in host.sessions
            self._open.setdefault(node_id, []).append(host)
            return host, taken is not None

    def release(self, host: PooledActor, *, broken: bool) -> None:
        """One conversation on ``host`` ended; a host left empty goes back to the pool."""
        host.active -= 1
        host.broken = host.broken or broken
        if host.active > 0:
            return
        hosts = self._open.get(host.node_id, [])
        if host in hosts:
            hosts.remove(host)
        self._pool.give_back(host, reusable=not host.broken)

    def hosts(self) -> int:
        """Hosts running conversations now."""
        return sum(len(hosts) for hosts in self._open.values())

    def _with_room(self, node_id: str) -> PooledActor | None:
        # The fullest host with room first: hosts empty out (and recycle) sooner.
        candidates = [
            host
            for host in self._open.get(node_id, ())
            if not host.broken and host.active < self._capacity and host.sessions < self._lifetime
        ]
        return max(candidates, key=lambda host: host.active, default=None)

    def _claim(self, host: PooledActor) -> PooledActor:
        host.active += 1
        host.sessions += 1
        return host
