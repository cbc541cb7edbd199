"""The supervisor: one named, detached actor per cluster that admits, places and watches sessions.

A thin actor over :mod:`voxray.actors.supervision`, one concept per module:

- :mod:`~voxray.actors.supervision.admission`: caps per API key (by fingerprint) and per node,
claimed
  atomically, a bounded queue fair across jobs;
- :mod:`~voxray.actors.supervision.placement`: which node, by live sessions and free memory, with
soft
  node affinity;
- :mod:`~voxray.actors.supervision.warm_pool`: idle session actors per node, recycled after K
sessions
  or past a memory ceiling;
- :mod:`~voxray.actors.supervision.liveness`: death noticed by awaiting the in-flight call, stalls
by a
  progress counter, clean stops;
- :mod:`~voxray.actors.supervision.hosts`: with ``conversations_per_actor`` > 1, conversations
packed
  into host actors with room (each guarded inside its host by
  :mod:`~voxray.actors.supervision.stall_guard`). Live sessions always get an actor of their own.

This actor strings them together: a scenario is admitted, handed a warm actor (or a cold one),
watched to its end, retried when its session was lost and its ticket allows, retried after
backoff when the provider refused the handshake with 429, and counted. ``drain()`` stops
admission, lets live sessions finish up to a deadline, then stops them cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ray
from pydantic import SecretStr
from ray.exceptions import RayActorError, RayTaskError
from voxray.actors.conversation.backoff import Backoff, ReconnectPolicy
from voxray.actors.conversation.result import SessionResult
from voxray.actors.errors import CapacityError, RateLimitedError, SessionLostError, VoxrayError
from voxray.actors.sealed import unseal
from voxray.actors.session import LiveSessionRequest, SessionActor, SessionRequest
from voxray.actors.supervision.admission import Admission, Slot, fingerprint
from voxray.actors.supervision.drivers import DriverWatch
from voxray.actors.supervision.health import SessionHealth
from voxray.actors.supervision.hosts import HostPool
from voxray.actors.supervision.liveness import SessionWatch, watch_lease, watch_session
from voxray.actors.supervision.models import (
    DrainReport,
    JobStatus,
    LiveSessionInfo,
    NodeStatus,
    QuotaStatus,
    SessionLease,
    SessionTicket,
    SupervisorStatus,
)
from voxray.actors.supervision.placement import Placement, affinity, read_nodes
from voxray.actors.supervision.settings import SupervisorSettings
from voxray.actors.supervision.warm_pool import PooledActor, WarmPool
from voxray.actors.tools.pool import ToolPool

__all__ = [
    "SUPERVISOR_NAME",
    "DrainReport",
    "SessionLease",
    "SessionTicket",
    "SupervisorActor",
    "SupervisorSettings",
    "SupervisorStatus",
    "find_supervisor",
    "get_supervisor",
]

logger = logging.getLogger("voxray.supervisor")

SUPERVISOR_NAME = "supervisor"
_RECENT_FAILURES = 20
_DRAINING = "the supervisor is draining"
_MAX_UNPLACED = 2


@dataclass(eq=False)
class _Live:
    request: SessionRequest | LiveSessionRequest
    job_id: str
    actor: PooledActor
    node_id: str
    attempt: int
    watch: SessionWatch
    started: float


def _cause(error: BaseException) -> BaseException:
    """The VoxrayError a Ray task error carries, else the error itself."""
    if isinstance(error, RayTaskError) and isinstance(error.cause, VoxrayError):
        return error.cause
    return error


def _rate_limited(result: SessionResult) -> bool:
    # A 429 is refused before anything was said, so retrying it repeats nothing.
    info = result.error_info
    return result.status == "failed" and info is not None and info.is_a(RateLimitedError)


class _Supervisor:
    def __init__(self, settings: SupervisorSettings, namespace: str) -> None:
        self._settings = settings
        self._namespace = namespace
        self._salt = secrets.token_bytes(16)  # fingerprints are only comparable inside this actor
        self._placement = Placement(
            max_per_node=settings.max_sessions_per_node,
            min_available_mb=settings.min_node_available_mb,
        )
        self._admission = Admission(
            limit_per_key=settings.max_sessions,
            max_queued=settings.max_queued,
            reserve_node=self._placement.reserve,
            release_node=self._placement.release,
        )
        self._pool: WarmPool | None = None
        self._hosts: HostPool | None = None  # packed hosts (conversations_per_actor > 1)
        self._live: dict[int, _Live] = {}
        self._leases: dict[int, tuple[Slot, asyncio.Task[None]]] = {}
        self._call_slots: dict[int, Slot] = {}  # slots of calls gateways host themselves
        self._call_owners: dict[int, str] = {}  # slot -> the named gateway actor holding it
        self._state = "running"
        # Why a job (or, after a drain's deadline, everything) was stopped: a conversation that
        # was still waiting for an actor or a host then must not start once it gets one.
        self._stopped_jobs: dict[str, str] = {}
        self._stopping_all: str | None = None
        self._counts = dict.fromkeys(
            ("completed", "failed", "lost", "retried", "rate_limited", "cold", "warm"), 0
        )
        self._failures: deque[str] = deque(maxlen=_RECENT_FAILURES)
        self._tool_pool: ToolPool | None = None
        self._pool_lock = asyncio.Lock()
        self._refresher: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()  # set whenever a live session ends
        self._drivers = DriverWatch(self._driver_gone, check_every_s=settings.driver_check_s)
        self._driver_checks: asyncio.Task[None] | None = None

    # --- public API -----------------------------------------------------------------------

    async def run_session(
        self, request: SessionRequest, ticket: SessionTicket | None = None
    ) -> SessionResult:
        """Admit, place and run one scenario; retry it per ``ticket``; report how it ended.

        A run whose ``ticket.driver_job`` is gone (the driver waiting for it died) is stopped.

        Raises:
            CapacityError: the queue is full, or the supervisor is draining.
        """
        ticket = ticket or SessionTicket()
        driver = ticket.driver_job
        if driver is None:
            return await self._run_session(request, ticket)
        self._drivers.watch(driver, ticket.job_id)
        try:
            return await self._run_session(request, ticket)
        finally:
            self._drivers.unwatch(driver, ticket.job_id)

    async def _run_session(self, request: SessionRequest, ticket: SessionTicket) -> SessionResult:
        self._ensure_pool()
        tools = await self._tools()
        quota = await self._quota_key(
            ticket.quota or request.endpoint.api_key, f"session {request.session_id}"
        )
        backoff = iter(self._rate_limit_delays())
        attempt = 0
        started = time.monotonic()
        avoid: str | None = None
        unplaced = 0  # attempts whose actor never started (its node went): not retries
        while True:
            slot = await self._admission.claim(
                quota,
                ticket.job_id,
                avoid_node=avoid,
                # A simulated caller is a second provider session on the same key.
                sessions=2 if request.script.caller is not None else 1,
            )
            try:
                result, stopped, started_actor = await self._host(request, tools, slot, attempt)
            finally:
                self._admission.release(slot)
            if stopped or self._state != "running":
                break
            if not started_actor and unplaced < _MAX_UNPLACED:
                unplaced += 1
                avoid = slot.node_id
                continue
            if _rate_limited(result):
                delay = next(backoff, None)
                if delay is not None:
                    self._counts["rate_limited"] += 1
                    await asyncio.sleep(delay)
                    continue
            if result.status == "lost" and attempt < ticket.retries:
                avoid = slot.node_id
                attempt += 1
                self._counts["retried"] += 1
                self._failures.append(
                    f"{request.session_id} lost, retrying (attempt {attempt + 1}): {result.error}"
                )
                continue
            break
        self._count(request, result, started)
        return result

    async def open_session(
        self, request: LiveSessionRequest, ticket: SessionTicket | None = None
    ) -> SessionLease:
        """Admit and open a live session on a warm actor; returns once ``session.updated``
        arrived. The caller drives the actor directly and ends with :meth:`close_session`.

        Raises:
            CapacityError: the queue is full, or the supervisor is draining.
            VoxrayError: the session could not be opened (e.g. ``AuthenticationError``).
        """
        ticket = ticket or SessionTicket(job_id="live")
        self._ensure_pool()
        tools = await self._tools()
        quota = await self._quota_key(
            ticket.quota or request.endpoint.api_key, f"session {request.session_id}"
        )
        backoff = iter(self._rate_limit_delays())
        pool = self._require_pool()
        while True:
            started = time.monotonic()
            slot = await self._admission.claim(quota, ticket.job_id)
            actor: PooledActor | None = None
            try:
                actor, warm = await self._actor_for(slot, arrival=True)
                await actor.handle.open.remote(request, tools)
            except BaseException as error:
                self._admission.release(slot)
                if actor is not None:
                    pool.give_back(actor, reusable=False)
                cause = _cause(error)
                if isinstance(cause, RateLimitedError):
                    delay = next(backoff, None)
                    if delay is not None and self._state == "running":
                        self._counts["rate_limited"] += 1
                        await asyncio.sleep(delay)
                        continue
                if cause is not error:
                    raise cause from error
                raise
            break
        watch = self._watch()
        self._live[slot.slot_id] = _Live(
            request, slot.job_id, actor, slot.node_id, 0, watch, time.monotonic()
        )
        watcher = asyncio.get_running_loop().create_task(
            self._watch_lease(slot, actor, watch), name=f"lease-{request.session_id}"
        )
        self._leases[slot.slot_id] = (slot, watcher)
        return SessionLease(
            lease_id=slot.slot_id,
            session_id=request.session_id,
            actor=actor.handle,
            actor_name=actor.name,
            node_id=actor.node_id,
            warm=warm,
            open_ms=round((time.monotonic() - started) * 1000, 2),
        )

    async def claim_call(
        self, quota: SecretStr, wait_s: float = 0.05, owner: str | None = None
    ) -> int:
        """A slot for a call that a gateway hosts in its own process, under the same caps as
        every session (per API key, per node); the call's id of it. A call never queues: no
        slot within ``wait_s`` is a refusal. ``owner`` names the (named) gateway actor: if it
        dies, its slots are given back within a few seconds.

        Raises:
            CapacityError: over a cap, or the supervisor is draining.
        """
        self._ensure_started()
        key = await self._quota_key(quota, "a gateway's call")
        try:
            slot = await asyncio.wait_for(self._admission.claim(key, "calls"), timeout=wait_s)
        except TimeoutError:
            raise CapacityError(
                "no session slot free for a call",
                limit=self._settings.max_sessions,
                in_use=self._admission.live_for(key),
            ) from None
        self._call_slots[slot.slot_id] = slot
        if owner is not None:
            self._call_owners[slot.slot_id] = owner
        return slot.slot_id

    def release_call(self, slot_id: int) -> None:
        """Give a call's slot back (idempotent)."""
        self._call_owners.pop(slot_id, None)
        slot = self._call_slots.pop(slot_id, None)
        if slot is not None:
            self._admission.release(slot)
            self._changed.set()

    async def close_session(self, lease_id: int) -> SessionResult:
        """Close a live session, give its slot back, and return what it did. Idempotent."""
        live = self._live.get(lease_id)
        if live is None or lease_id not in self._leases:
            return SessionResult.lost("no such live session")
        try:
            result: SessionResult = await live.actor.handle.close.remote()
        except RayActorError as error:
            result = SessionResult.lost(str(error))
        except RayTaskError as error:
            result = SessionResult.failed(_cause(error))
        self._end_lease(lease_id, result, reusable=result.status != "lost")
        return result

    def status(self) -> SupervisorStatus:
        """Nodes, live sessions, warm pool, caps, queue and recent failures."""
        self._ensure_started()
        admission = self._admission.statistics()
        pool = self._pool.statistics() if self._pool is not None else None
        nodes = [
            NodeStatus(
                node_id=load.info.node_id,
                address=load.info.address,
                alive=load.info.alive,
                is_head=load.info.is_head,
                live_sessions=load.live,
                max_sessions=self._placement.max_per_node,
                warm_idle=pool.idle.get(load.info.node_id, 0) if pool else 0,
                warm_starting=pool.starting.get(load.info.node_id, 0) if pool else 0,
                available_mb=load.available_mb,
            )
            for load in self._placement.loads()
        ]
        jobs = sorted(set(admission.live_per_job) | set(admission.queued_per_job))
        return SupervisorStatus(
            state=self._state,
            max_sessions=self._settings.max_sessions,
            max_sessions_per_node=self._settings.max_sessions_per_node,
            max_queued=self._settings.max_queued,
            warm_per_node=self._settings.warm_per_node,
            live_sessions=admission.live,
            waiting=admission.queued,
            completed=self._counts["completed"],
            failed=self._counts["failed"],
            lost=self._counts["lost"],
            retried=self._counts["retried"],
            rate_limited=self._counts["rate_limited"],
            cold_starts=self._counts["cold"],
            warm_starts=self._counts["warm"],
            recycled=pool.recycled if pool else 0,
            nodes=nodes,
            quotas=[
                QuotaStatus(fingerprint=key, live_sessions=n, limit=self._settings.max_sessions)
                for key, n in sorted(admission.live_per_quota.items())
            ],
            jobs=[
                JobStatus(
                    job_id=job,
                    live_sessions=admission.live_per_job.get(job, 0),
                    queued=admission.queued_per_job.get(job, 0),
                )
                for job in jobs
            ],
            recent_failures=list(self._failures),
        )

    def sessions(self) -> list[LiveSessionInfo]:
        """The sessions running now."""
        now = time.monotonic()
        return [
            LiveSessionInfo(
                session_id=live.request.session_id,
                job_id=live.job_id,
                node_id=live.actor.node_id,
                actor_name=live.actor.name,
                attempt=live.attempt,
                running_s=round(now - live.started, 3),
            )
            for live in self._live.values()
        ]

    async def warm_up(self, timeout_s: float = 60.0) -> SupervisorStatus:
        """Wait until every live node has its warm actors (for benchmarks and tests)."""
        self._ensure_pool()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.status()
            alive = [node for node in status.nodes if node.alive]
            if all(node.warm_idle >= status.warm_per_node for node in alive):
                return status
            await asyncio.sleep(0.05)
        return self.status()

    def cancel_queued(self, job_id: str) -> int:
        """Refuse the waiting requests of ``job_id`` (its live sessions go on)."""
        return self._admission.cancel_job(job_id, f"job {job_id} was stopped")

    def _driver_gone(self, job_id: str, driver_job: str) -> None:
        logger.warning(
            "the driver of job %s (Ray job %s) is gone: stopping its runs", job_id, driver_job
        )
        self.stop_job(job_id, f"stopped: the driver of job {job_id} is gone")

    def stop_job(self, job_id: str, reason: str = "stopped by its job") -> int:
        """Stop the live sessions of ``job_id`` cleanly; returns how many were asked to stop."""
        self.cancel_queued(job_id)
        self._stopped_jobs[job_id] = reason
        return self._stop([live for live in self._live.values() if live.job_id == job_id], reason)

    async def drain(self, deadline_s: float = 60.0) -> DrainReport:
        """Stop admission, let live sessions finish until ``deadline_s``, then stop them."""
        started = time.monotonic()
        self._state = "draining"
        refused = self._admission.close(_DRAINING)
        at_start = len(self._live)
        await self._wait_until(lambda: not self._live, started + deadline_s)
        remaining = list(self._live.values())
        self._stopping_all = f"stopped: {_DRAINING} (deadline {deadline_s:g} s)"
        self._stop(remaining, self._stopping_all)
        await self._wait_until(
            lambda: not self._live, time.monotonic() + self._settings.stop_grace_s + 5.0
        )
        killed = 0
        for live in list(self._live.values()):  # did not even answer the kill
            with contextlib.suppress(Exception):
                ray.kill(live.actor.handle, no_restart=True)
            killed += 1
        if self._pool is not None:
            await self._pool.aclose()
        self.shutdown_tools()
        if self._refresher is not None:
            self._refresher.cancel()
        if self._driver_checks is not None:
            self._driver_checks.cancel()
        self._state = "drained"
        return DrainReport(
            finished=at_start - len(remaining),
            stopped=len(remaining) - killed,
            killed=killed,
            refused=refused,
            elapsed_s=round(time.monotonic() - started, 3),
        )

    def shutdown_tools(self) -> None:
        """Stop the tool-runner pool (it restarts on the next session)."""
        if self._tool_pool is not None:
            self._tool_pool.shutdown()
            self._tool_pool = None

    def ping(self) -> str:
        """Liveness probe."""
        return "ok"

    # --- one session ----------------------------------------------------------------------

    async def _host(
        self, request: SessionRequest, tools: ToolPool, slot: Slot, attempt: int
    ) -> tuple[SessionResult, bool, bool]:
        """Run one attempt on ``slot``'s node; returns (result, stopped on request, whether
        an actor started at all)."""
        pool = self._require_pool()
        hosts = self._hosts
        try:
            if hosts is not None:
                actor, warm = await hosts.acquire(slot.node_id)
                self._counts["warm" if warm else "cold"] += 1
            else:
                actor, _ = await self._actor_for(slot)
        except SessionLostError as error:
            with contextlib.suppress(Exception):
                self._refresh_nodes()
            return SessionResult.lost(error.message), False, False
        stopped = self._stopping_all or self._stopped_jobs.get(slot.job_id)
        if stopped is not None:  # stopped while it waited for an actor: it never starts
            if hosts is not None:
                hosts.release(actor, broken=False)
            else:
                pool.give_back(actor, reusable=True)
            return SessionResult.lost(stopped), True, True
        watch = self._watch(shared_host=hosts is not None)
        live = _Live(request, slot.job_id, actor, slot.node_id, attempt, watch, time.monotonic())
        self._live[slot.slot_id] = live
        reusable = False
        died = False
        try:
            if hosts is not None:
                # The host guards this conversation itself: a stall ends it alone.
                ref = actor.handle.run_scenario.remote(
                    request,
                    tools,
                    stall_timeout_s=self._settings.stall_timeout_s,
                    check_every_s=self._settings.progress_check_s,
                )
            else:
                ref = actor.handle.run_scenario.remote(request, tools)
            try:
                result = await watch_session(actor.handle, ref, watch)
                reusable = result.status != "lost"
            except SessionLostError as error:
                died = True
                result = SessionResult.lost(error.message)
                # Its node may be gone: learn that before the retry is placed.
                with contextlib.suppress(Exception):
                    self._refresh_nodes()
        finally:
            del self._live[slot.slot_id]
            self._changed.set()
            if hosts is not None:
                hosts.release(actor, broken=died)
            else:
                pool.give_back(actor, reusable=reusable)
        return result, watch.stop.is_set(), True

    async def _actor_for(self, slot: Slot, *, arrival: bool = False) -> tuple[PooledActor, bool]:
        """A warm actor on the slot's node, else a cold one; and whether it was warm.

        ``arrival``: a live session is waiting: it counts towards the rate the pool follows.
        """
        pool = self._require_pool()
        actor = pool.take_nowait(slot.node_id, arrival=arrival)
        self._counts["warm" if actor is not None else "cold"] += 1
        if actor is not None:
            return actor, True
        return await pool.start_actor(slot.node_id), False

    def _watch(self, *, shared_host: bool = False) -> SessionWatch:
        settings = self._settings
        stall_timeout_s = settings.stall_timeout_s
        if shared_host:
            # The host's own per-conversation watchdog acts first; this one only ends a host
            # whose every conversation stopped moving (a wedged event loop).
            stall_timeout_s += 2 * settings.progress_check_s + settings.stop_grace_s
        return SessionWatch(
            stall_timeout_s=stall_timeout_s,
            shared_host=shared_host,
            check_every_s=self._settings.progress_check_s,
            stop_grace_s=self._settings.stop_grace_s,
            on_health=self._on_health,
        )

    async def _watch_lease(self, slot: Slot, actor: PooledActor, watch: SessionWatch) -> None:
        lost = await watch_lease(actor.handle, watch)
        if watch.stop.is_set() and lost is None and slot.slot_id in self._leases:
            # Stopped by drain or stop_job: close it cleanly, as close_session would.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    actor.handle.close.remote(), timeout=self._settings.stop_grace_s
                )
            result = SessionResult.lost(watch.stop_reason)
            self._end_lease(slot.slot_id, result, reusable=False)
        elif lost is not None:
            result = SessionResult.lost(lost.message)
            self._end_lease(slot.slot_id, result, reusable=False)

    def _end_lease(self, lease_id: int, result: SessionResult, *, reusable: bool) -> None:
        entry = self._leases.pop(lease_id, None)
        live = self._live.pop(lease_id, None)
        if entry is None or live is None:
            return
        slot, watcher = entry
        if watcher is not asyncio.current_task():
            watcher.cancel()
        self._admission.release(slot)
        self._changed.set()
        self._require_pool().give_back(live.actor, reusable=reusable)
        self._count(live.request, result, live.started)

    def _count(
        self,
        request: SessionRequest | LiveSessionRequest,
        result: SessionResult,
        started: float,
    ) -> None:
        self._counts[result.status] += 1
        if result.status != "completed":
            elapsed = time.monotonic() - started
            self._failures.append(
                f"{request.session_id} {result.status} after {elapsed:.1f} s: {result.error}"
            )

    def _stop(self, sessions: list[_Live], reason: str) -> int:
        for live in sessions:
            live.watch.stop_reason = reason
            live.watch.stop.set()
        return len(sessions)

    # --- plumbing -------------------------------------------------------------------------

    def _ensure_started(self) -> None:
        """Read the nodes and start the node refresher and driver checks, once (no awaits:
        atomic). Starts no session actor: calls that gateways host need none."""
        if self._refresher is not None:
            return
        self._refresh_nodes()
        self._refresher = asyncio.get_running_loop().create_task(
            self._refresh_forever(), name="supervisor-nodes"
        )
        self._driver_checks = asyncio.get_running_loop().create_task(
            self._drivers.run(), name="supervisor-drivers"
        )

    def _ensure_pool(self) -> None:
        """:meth:`_ensure_started`, and the warm pool, filled from now on (once; atomic).

        Only the paths that run sessions on session actors (scenarios, live sessions, warm-up)
        start it: a cluster that only serves gateway calls, which run inside the gateway, keeps
        no idle session actors it would never use.
        """
        self._ensure_started()
        if self._pool is not None:
            return
        packing = self._settings.conversations_per_actor
        self._pool = WarmPool(
            actor_class=SessionActor,
            namespace=self._namespace,
            per_node=self._settings.warm_per_node,
            recycle_after=self._settings.recycle_after_sessions * packing,
            recycle_above_mb=self._settings.recycle_above_mb,
            start_timeout_s=self._settings.actor_start_timeout_s,
            on_health=self._on_health,
            refill_on_take=self._settings.warm_refill,
            max_per_node=self._settings.warm_max_per_node,
            rate_window_s=self._settings.warm_rate_window_s,
        )
        if packing > 1:
            self._hosts = HostPool(
                self._pool,
                capacity=packing,
                lifetime=self._settings.recycle_after_sessions * packing,
            )
        if self._state == "running":
            self._pool.set_nodes(self._placement.alive_nodes())

    def _require_pool(self) -> WarmPool:
        if self._pool is None:
            raise RuntimeError("the supervisor was not started")
        return self._pool

    def _refresh_nodes(self) -> None:
        joined, lost = self._placement.update_nodes(read_nodes())
        if lost:
            logger.warning("nodes lost: %s", ", ".join(node[:12] for node in lost))
        if (joined or lost) and self._pool is not None and self._state == "running":
            self._pool.set_nodes(self._placement.alive_nodes())
        if joined:
            self._admission.capacity_changed()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.node_refresh_s)
            try:
                self._refresh_nodes()
            except Exception:  # a GCS hiccup must not end the refresher
                logger.exception("reading the node list failed")
            if self._pool is not None and self._state == "running":
                self._pool.trim()  # the arrival rate dropped: idle actors beyond it go
            self._release_orphaned_calls()

    def _release_orphaned_calls(self) -> None:
        """Give back the call slots of gateways that died (a named actor is gone once dead)."""
        for owner in set(self._call_owners.values()):
            try:
                ray.get_actor(owner, namespace=self._namespace)
            except ValueError:
                orphaned = [slot for slot, name in self._call_owners.items() if name == owner]
                logger.warning(
                    "gateway %s is gone: %d call slot(s) given back", owner, len(orphaned)
                )
                for slot_id in orphaned:
                    self.release_call(slot_id)
            except Exception:  # a GCS hiccup: ask again next time
                continue

    async def _quota_key(self, quota: SecretStr, user: str) -> str:
        """The fingerprint of the cap ``quota`` names (sent sealed: fetched here, never kept).
        ``user`` names who it is for in the error when it cannot be fetched."""
        opened = await unseal(quota, what=f"the API key (or quota) of {user}")
        return fingerprint(opened.get_secret_value(), self._salt)

    def _on_health(self, health: SessionHealth) -> None:
        if health.node_available_mb is not None:
            self._placement.report_memory(health.node_id, health.node_available_mb)
            self._admission.capacity_changed()

    def _rate_limit_delays(self) -> Iterator[float]:
        settings = self._settings
        if settings.rate_limit_retries == 0:
            return iter(())
        policy = ReconnectPolicy(
            base_delay_s=settings.rate_limit_backoff_s,
            max_delay_s=settings.rate_limit_backoff_max_s,
            max_attempts=settings.rate_limit_retries,
        )
        # Full jitter, floored at a tenth of the nominal delay so retries never hammer.
        return (
            max(delay, settings.rate_limit_backoff_s * 0.1) for delay in Backoff(policy).delays()
        )

    async def _wait_until(self, condition: Any, deadline: float) -> None:
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=remaining)

    async def _tools(self) -> ToolPool:
        async with self._pool_lock:
            if self._tool_pool is None:
                self._tool_pool = ToolPool.from_settings(
                    self._settings.tools, namespace=self._namespace
                )
                await self._tool_pool.wait_ready()
            return self._tool_pool


SupervisorActor: Any = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=10_000)(_Supervisor)


def get_supervisor(settings: SupervisorSettings, namespace: str) -> Any:
    """The cluster's supervisor: found when it exists, created (detached) on first use.

    A new one goes to the head node (soft affinity: elsewhere if the head cannot take it): it
    owns every session actor, so it must live where a lost worker node cannot take it along.
    """
    head = next((node.node_id for node in read_nodes() if node.is_head and node.alive), None)
    return SupervisorActor.options(
        name=SUPERVISOR_NAME,
        namespace=namespace,
        lifetime="detached",
        get_if_exists=True,
        scheduling_strategy=affinity(head or ray.get_runtime_context().get_node_id()),
    ).remote(settings, namespace)


def find_supervisor(namespace: str) -> Any | None:
    """The cluster's supervisor if one exists; never creates one."""
    try:
        return ray.get_actor(SUPERVISOR_NAME, namespace=namespace)
    except ValueError:
        return None
