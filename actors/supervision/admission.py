"""Admission: hard caps on live provider sessions, claimed atomically, queued fairly.

Two caps hold at once: live sessions per API key (the provider's per-team limit) and live
sessions per node (what a machine hosts). A claim succeeds only when both have room; the node is
chosen by :class:`~voxray.actors.supervision.placement.Placement` in the same synchronous step, so
racing claims can never overshoot either cap (the supervisor is one asyncio loop: nothing runs
between the check and the increment).

Keys are never stored: a quota is named by :func:`fingerprint`, a salted HMAC of the key whose
salt lives only in this process, so the name cannot be reversed nor matched across clusters.

Waiting claims queue per job and are served round-robin across jobs: a job that queued a
thousand scenarios does not starve one that queued two. The queue is bounded: past
``max_queued`` a claim fails at once with a :class:`~voxray.actors.errors.CapacityError` that
carries
the numbers. :meth:`Admission.close` (drain) fails every waiter and refuses new claims.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from voxray.actors.errors import CapacityError

__all__ = ["Admission", "AdmissionStatistics", "Slot", "fingerprint"]

_FINGERPRINT_HEX = 16


def fingerprint(secret: str, salt: bytes) -> str:
    """A short, non-reversible name for ``secret``: HMAC-SHA256 under ``salt``, 64 bits."""
    digest = hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"key-{digest[:_FINGERPRINT_HEX]}"


@dataclass(frozen=True)
class Slot:
    """One admitted session: which quota and node it counts against, for which job."""

    slot_id: int
    quota: str
    node_id: str
    job_id: str
    sessions: int = 1
    """Provider sessions it counts against the key's cap (2: an agent and a simulated caller,
    hosted by one actor, so one place on the node)."""


@dataclass(frozen=True)
class AdmissionStatistics:
    """What admission holds now."""

    limit_per_key: int
    max_queued: int
    live: int
    queued: int
    live_per_quota: dict[str, int]
    live_per_job: dict[str, int]
    queued_per_job: dict[str, int]
    closed: bool


@dataclass(eq=False)
class _Waiter:
    quota: str
    job_id: str
    future: asyncio.Future[Slot] = field(repr=False)
    avoid_node: str | None = None
    sessions: int = 1


class Admission:
    """Caps per key and per node, a bounded fair queue, atomic claims.

    Args:
        limit_per_key: live sessions one quota (API key) may hold.
        max_queued: claims that may wait; one more raises ``CapacityError``.
        reserve_node: picks a node with room, preferring any but the one given, and counts
            the session on it; None when no node has room (``Placement.reserve``).
        release_node: gives a node's place back (``Placement.release``).
    """

    def __init__(
        self,
        *,
        limit_per_key: int,
        max_queued: int,
        reserve_node: Callable[[str | None], str | None],
        release_node: Callable[[str], None],
    ) -> None:
        self._limit = limit_per_key
        self._max_queued = max_queued
        self._reserve_node = reserve_node
        self._release_node = release_node
        self._live: dict[int, Slot] = {}
        self._per_quota: Counter[str] = Counter()
        self._queues: dict[str, deque[_Waiter]] = {}
        self._turns: deque[str] = deque()  # job ids with waiters, in round-robin order
        self._queued = 0
        self._ids = itertools.count(1)
        self._closed_reason: str | None = None

    @property
    def live(self) -> int:
        """Slots held now."""
        return len(self._live)

    @property
    def queued(self) -> int:
        """Claims waiting now."""
        return self._queued

    def live_for(self, quota: str) -> int:
        """Slots ``quota`` holds now."""
        return self._per_quota[quota]

    async def claim(
        self, quota: str, job_id: str, *, avoid_node: str | None = None, sessions: int = 1
    ) -> Slot:
        """Wait for a slot of ``quota`` on some node; fair across jobs.

        ``avoid_node`` is used only when no other node has room (a retry after a lost
        session goes elsewhere when it can: that node may be on its way out). ``sessions``:
        provider sessions the slot holds against the key's cap, claimed all at once (a
        simulated caller's call holds two), never one by one (two half-claimed calls could
        each wait forever for the other's).

        Raises:
            CapacityError: the queue is full, admission is closed (draining), or ``sessions``
                is more than the key's cap allows at all.
        """
        if self._closed_reason is not None:
            raise self._refusal(self._closed_reason, quota)
        if sessions > self._limit:
            raise self._refusal(
                f"a claim of {sessions} sessions exceeds the cap of {self._limit} per key", quota
            )
        if self._queued >= self._max_queued and not self._grantable_now(quota, sessions):
            raise self._refusal(f"the admission queue is full ({self._max_queued})", quota)
        waiter = _Waiter(
            quota, job_id, asyncio.get_running_loop().create_future(), avoid_node, sessions
        )
        self._enqueue(waiter)
        self._pump()
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                if waiter.future.exception() is None:
                    self.release(waiter.future.result())
            else:
                self._discard(waiter)
            raise

    def release(self, slot: Slot) -> None:
        """Give a slot back (idempotent) and admit whoever can go next."""
        if self._live.pop(slot.slot_id, None) is None:
            return
        self._per_quota[slot.quota] -= slot.sessions
        if self._per_quota[slot.quota] <= 0:
            del self._per_quota[slot.quota]
        self._release_node(slot.node_id)
        self._pump()

    def capacity_changed(self) -> None:
        """A node joined or freed memory: try the queue again."""
        self._pump()

    def close(self, reason: str) -> int:
        """Refuse new claims and fail every waiter with ``CapacityError``; returns how many."""
        self._closed_reason = reason
        failed = 0
        for queue in self._queues.values():
            for waiter in queue:
                if not waiter.future.done():
                    waiter.future.set_exception(self._refusal(reason, waiter.quota))
                    failed += 1
        self._queues.clear()
        self._turns.clear()
        self._queued = 0
        return failed

    def cancel_job(self, job_id: str, reason: str) -> int:
        """Fail the waiting claims of one job (its live sessions go on); returns how many."""
        queue = self._queues.pop(job_id, deque())
        if job_id in self._turns:
            self._turns.remove(job_id)
        failed = 0
        for waiter in queue:
            self._queued -= 1
            if not waiter.future.done():
                waiter.future.set_exception(self._refusal(reason, waiter.quota))
                failed += 1
        return failed

    def statistics(self) -> AdmissionStatistics:
        """A snapshot for status displays."""
        return AdmissionStatistics(
            limit_per_key=self._limit,
            max_queued=self._max_queued,
            live=len(self._live),
            queued=self._queued,
            live_per_quota=dict(self._per_quota),
            live_per_job=dict(Counter(slot.job_id for slot in self._live.values())),
            queued_per_job={job: len(queue) for job, queue in self._queues.items() if queue},
            closed=self._closed_reason is not None,
        )

    # --- internals -------------------------------------------------------------------------

    def _refusal(self, reason: str, quota: str) -> CapacityError:
        return CapacityError(
            f"no session slot: {reason}",
            limit=self._limit,
            in_use=self._per_quota[quota],
            queued=self._queued,
        )

    def _grantable_now(self, quota: str, sessions: int = 1) -> bool:
        # A full queue still admits a claim that would not wait; only waiting is bounded.
        return self._queued == 0 and self._per_quota[quota] + sessions <= self._limit

    def _enqueue(self, waiter: _Waiter) -> None:
        queue = self._queues.setdefault(waiter.job_id, deque())
        if not queue and waiter.job_id not in self._turns:
            self._turns.append(waiter.job_id)
        queue.append(waiter)
        self._queued += 1

    def _discard(self, waiter: _Waiter) -> None:
        queue = self._queues.get(waiter.job_id)
        if queue is None or waiter not in queue:
            return
        queue.remove(waiter)
        self._queued -= 1
        if not queue:
            del self._queues[waiter.job_id]
            if waiter.job_id in self._turns:
                self._turns.remove(waiter.job_id)

    def _pump(self) -> None:
        """Grant slots round-robin across jobs while both caps have room. Synchronous."""
        blocked = 0  # consecutive jobs whose next waiter cannot go
        while self._turns and blocked < len(self._turns):
            job_id = self._turns[0]
            queue = self._queues[job_id]
            while queue and queue[0].future.done():  # cancelled meanwhile
                queue.popleft()
                self._queued -= 1
            if not queue:
                self._turns.popleft()
                del self._queues[job_id]
                continue
            waiter = queue[0]
            if self._per_quota[waiter.quota] + waiter.sessions > self._limit:
                self._turns.rotate(-1)
                blocked += 1
                continue
            node_id = self._reserve_node(waiter.avoid_node)
            if node_id is None:
                return  # no node has room for anyone
            queue.popleft()
            self._queued -= 1
            slot = Slot(next(self._ids), waiter.quota, node_id, job_id, waiter.sessions)
            self._live[slot.slot_id] = slot
            self._per_quota[slot.quota] += slot.sessions
            waiter.future.set_result(slot)
            blocked = 0
            if queue:
                self._turns.rotate(-1)
            else:
                self._turns.popleft()
                del self._queues[job_id]
