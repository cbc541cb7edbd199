"""The warm pool: idle session actors kept ready on every node, handed out in milliseconds.

Starting an actor costs ~0.5-0.7 CPU-s and ~1 s of wall time (a new worker process importing the
engine), far too slow for the start of a call. So each node keeps ``per_node`` idle actors that
already answered a ``health()`` call; a session takes one (a dictionary pop) and the pool starts
a replacement in the background, at most ``max_parallel_starts`` at a time so refills never
swamp a small machine. A node with no idle actor gets a cold start, which the session awaits.

The pool follows the arrival rate of live sessions: a node keeps as many idle actors as live
sessions took one there in the last ``rate_window_s`` (at least ``per_node``, at most
``max_per_node``), so after a burst of ten the next burst of ten finds ten warm actors, and the
surplus goes once the rate drops (an idle actor costs ≈ 0.4 % of a core and 60 MB).

An actor that hosted a session comes back to the pool unless it hosted ``recycle_after``
sessions already, or its USS passed ``recycle_above_mb`` (a leak stays contained), or its node
already has enough idle actors; otherwise it is killed. Actors are named
``voxray-session-<id>`` in the voxray namespace, so ``ray list actors`` shows what they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import RayError
from voxray.actors.errors import SessionLostError
from voxray.actors.supervision.health import SessionHealth
from voxray.actors.supervision.placement import affinity

__all__ = ["PooledActor", "WarmPool", "WarmPoolStatistics"]

logger = logging.getLogger("voxray.supervisor.pool")

_HEALTH_TIMEOUT_S = 10.0


@dataclass(eq=False)
class PooledActor:
    """A session actor and what the pool knows of it."""

    handle: Any
    name: str
    node_id: str
    sessions: int = 0
    created_at: float = field(default_factory=time.monotonic)
    active: int = 0
    """Conversations running on it now (packed hosts)."""
    broken: bool = False
    """It lost a conversation to its own death: it takes no more (packed hosts)."""


@dataclass(frozen=True)
class WarmPoolStatistics:
    """Idle and starting actors per node, and lifetime counters."""

    idle: dict[str, int]
    starting: dict[str, int]
    started: int
    recycled: int
    start_failures: int


class WarmPool:
    """Idle session actors per node.

    Args:
        actor_class: the ``@ray.remote`` session class (needs ``health()``).
        namespace: Ray namespace of the actors' names.
        per_node: idle actors to keep on each node.
        recycle_after: sessions an actor hosts before it is replaced.
        recycle_above_mb: USS past which an actor is replaced.
        start_timeout_s: longest wait for a new actor's first ``health()``.
        on_health: every health report (placement learns node memory from it).
        max_parallel_starts: background starts in flight at once.
        refill_on_take: start a replacement whenever an idle actor is handed out.
        max_per_node: most idle actors a node keeps when arrivals are frequent (default:
            ``per_node``, a fixed pool).
        rate_window_s: how far back arrivals count towards a node's target.
        clock: a monotonic clock in seconds (injected for tests).
    """

    def __init__(
        self,
        *,
        actor_class: Any,
        namespace: str,
        per_node: int,
        recycle_after: int,
        recycle_above_mb: float,
        start_timeout_s: float,
        on_health: Callable[[SessionHealth], None] = lambda health: None,
        max_parallel_starts: int = 2,
        refill_on_take: bool = True,
        max_per_node: int | None = None,
        rate_window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_per_node = max(per_node, max_per_node if max_per_node is not None else per_node)
        self._rate_window_s = rate_window_s
        self._clock = clock
        self._takes: dict[str, deque[float]] = {}
        self._refill_on_take = refill_on_take
        self._actor_class = actor_class
        self._namespace = namespace
        self._per_node = per_node
        self._recycle_after = recycle_after
        self._recycle_above_mb = recycle_above_mb
        self._start_timeout_s = start_timeout_s
        self._on_health = on_health
        self._start_gate = asyncio.Semaphore(max_parallel_starts)
        self._idle: dict[str, deque[PooledActor]] = {}
        self._starting: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._nodes: list[str] = []
        self._closed = False
        self._started = 0
        self._recycled = 0
        self._start_failures = 0

    # --- handing out ----------------------------------------------------------------------

    def take_nowait(self, node_id: str, *, arrival: bool = False) -> PooledActor | None:
        """An idle actor on ``node_id``, or None. Starts its replacement in the background.

        ``arrival``: a live caller is waiting for this one, so it counts towards the arrival
        rate the pool follows (batch work, which may wait, does not grow the pool).
        """
        if arrival:
            self._takes.setdefault(node_id, deque()).append(self._clock())
        idle = self._idle.get(node_id)
        actor = idle.popleft() if idle else None
        if actor is not None:
            actor.sessions += 1
        if self._refill_on_take:
            self.refill()
        return actor

    async def start_actor(self, node_id: str) -> PooledActor:
        """A new actor on (preferably) ``node_id``, ready to host a session: a cold start.

        Raises:
            SessionLostError: it did not come up within the start timeout.
        """
        actor = await self._start(node_id)
        actor.sessions += 1
        return actor

    def give_back(self, actor: PooledActor, *, reusable: bool) -> None:
        """A session ended on ``actor``: keep it warm or recycle it (in the background)."""
        if not reusable or self._closed:
            self._kill(actor)
            return
        self._spawn(self._check_and_keep(actor), f"pool-return-{actor.name}")

    # --- keeping it filled ----------------------------------------------------------------

    def set_nodes(self, nodes: Iterable[str]) -> None:
        """The nodes that host sessions now; idle actors of lost nodes are dropped."""
        self._nodes = list(nodes)
        for node_id in list(self._idle):
            if node_id not in self._nodes:
                for actor in self._idle.pop(node_id):
                    self._kill(actor)
        self.refill()

    def refill(self) -> None:
        """Start actors where a node has fewer than ``per_node`` idle or starting."""
        if self._closed:
            return
        for node_id in self._nodes:
            missing = (
                self.target(node_id)
                - len(self._idle.get(node_id, ()))
                - self._starting.get(node_id, 0)
            )
            for _ in range(max(0, missing)):
                self._starting[node_id] = self._starting.get(node_id, 0) + 1
                self._spawn(self._fill(node_id), f"pool-fill-{node_id[:8]}")

    def target(self, node_id: str) -> int:
        """Idle actors ``node_id`` should keep now: its recent arrivals, within the bounds."""
        takes = self._takes.get(node_id)
        horizon = self._clock() - self._rate_window_s
        while takes and takes[0] < horizon:
            takes.popleft()
        recent = len(takes) if takes else 0
        return max(self._per_node, min(self._max_per_node, recent))

    def trim(self) -> int:
        """Stop idle actors beyond each node's target (the rate dropped); how many."""
        stopped = 0
        for node_id, idle in self._idle.items():
            while len(idle) > self.target(node_id):
                self._kill(idle.pop())
                stopped += 1
        return stopped

    def statistics(self) -> WarmPoolStatistics:
        """Idle and starting per node, and counters."""
        return WarmPoolStatistics(
            idle={node: len(idle) for node, idle in self._idle.items() if idle},
            starting={node: n for node, n in self._starting.items() if n},
            started=self._started,
            recycled=self._recycled,
            start_failures=self._start_failures,
        )

    async def aclose(self) -> None:
        """Stop refilling, cancel starts, kill every idle actor. Idempotent."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        for idle in self._idle.values():
            for actor in idle:
                self._kill(actor)
        self._idle.clear()

    # --- internals ------------------------------------------------------------------------

    async def _start(self, node_id: str) -> PooledActor:
        name = f"voxray-session-{uuid.uuid4().hex[:12]}"
        handle = self._actor_class.options(
            name=name, namespace=self._namespace, scheduling_strategy=affinity(node_id)
        ).remote()
        try:
            health: SessionHealth = await asyncio.wait_for(
                handle.health.remote(), timeout=self._start_timeout_s
            )
        except (TimeoutError, RayError) as error:
            self._start_failures += 1
            with contextlib.suppress(Exception):
                ray.kill(handle, no_restart=True)
            raise SessionLostError(
                f"a session actor did not start within {self._start_timeout_s:g} s: "
                f"{type(error).__name__}"
            ) from error
        self._started += 1
        self._on_health(health)
        return PooledActor(handle, name, health.node_id)

    async def _fill(self, node_id: str) -> None:
        try:
            async with self._start_gate:
                if self._closed or node_id not in self._nodes:
                    return
                actor = await self._start(node_id)
            self._keep(actor)
        except SessionLostError as error:
            logger.warning("warm pool: %s", error.message)
        finally:
            self._starting[node_id] = max(0, self._starting.get(node_id, 0) - 1)

    async def _check_and_keep(self, actor: PooledActor) -> None:
        if actor.sessions >= self._recycle_after:
            self._recycle(actor, f"hosted {actor.sessions} sessions")
            return
        try:
            health: SessionHealth = await asyncio.wait_for(
                actor.handle.health.remote(), timeout=_HEALTH_TIMEOUT_S
            )
        except (TimeoutError, RayError):
            self._kill(actor)
            self.refill()
            return
        self._on_health(health)
        if health.uss_mb is not None and health.uss_mb > self._recycle_above_mb:
            self._recycle(actor, f"USS {health.uss_mb:.0f} MB > {self._recycle_above_mb:g} MB")
            return
        self._keep(actor)

    def _keep(self, actor: PooledActor) -> None:
        idle = self._idle.setdefault(actor.node_id, deque())
        if (
            self._closed
            or actor.node_id not in self._nodes
            or len(idle) >= self.target(actor.node_id)
        ):
            self._kill(actor)
            return
        idle.append(actor)

    def _recycle(self, actor: PooledActor, why: str) -> None:
        logger.info("recycling %s: %s", actor.name, why)
        self._recycled += 1
        self._kill(actor)
        self.refill()

    def _kill(self, actor: PooledActor) -> None:
        with contextlib.suppress(Exception):
            ray.kill(actor.handle, no_restart=True)

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
