"""The driver's client of the cluster's supervisor actor.

Every call the driver makes on the supervisor goes through :class:`SupervisorClient`, which maps
Ray's errors once (:func:`~voxray.handles.ray_errors.voxray_error`): a dead supervisor is an
:class:`~voxray.actors.errors.ActorLostError` with ``actor="supervisor"``, a refusal for
capacity is the :class:`~voxray.actors.errors.CapacityError` the supervisor raised. The keys in
requests and tickets are sealed here (:mod:`voxray.actors.sealed`): they travel as object
references, never in the calls' arguments.
"""

from __future__ import annotations

import asyncio
import time

import ray
from ray.exceptions import RayError
from voxray.actors.conversation.live import LiveSessionRequest
from voxray.actors.conversation.result import SessionResult
from voxray.actors.errors import ActorLostError, ActorTimeoutError
from voxray.actors.sealed import seal
from voxray.actors.session import SessionRequest
from voxray.actors.supervision.models import (
    DrainReport,
    LiveSessionInfo,
    SessionLease,
    SessionTicket,
    SupervisorStatus,
)
from voxray.actors.supervision.settings import SupervisorSettings
from voxray.actors.supervisor import find_supervisor, get_supervisor
from voxray.handles.base import ActorClient
from voxray.handles.ray_errors import voxray_error

__all__ = ["SupervisorClient"]

_ENSURE_TIMEOUT_S = 30.0
_ENSURE_RETRY_S = 0.1
_PING_TIMEOUT_S = 30.0


class SupervisorClient(ActorClient):
    """A handle on the supervisor actor. Create it with :meth:`ensure` or :meth:`find`."""

    ACTOR = "supervisor"

    @classmethod
    def ensure(cls, settings: SupervisorSettings, namespace: str) -> SupervisorClient:
        """The cluster's supervisor in ``namespace``, created (detached) if none runs.

        A supervisor that just died (killed, drained) keeps its name until Ray has marked it
        dead; until then the name finds the dead actor, so it is asked again.

        Raises:
            ActorLostError: no live supervisor could be had within ``_ENSURE_TIMEOUT_S``.
        """
        deadline = time.monotonic() + _ENSURE_TIMEOUT_S
        while True:
            client = cls(get_supervisor(settings, namespace))
            try:
                client.ping(timeout_s=_PING_TIMEOUT_S)
            except (ActorLostError, ActorTimeoutError):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(_ENSURE_RETRY_S)
                continue
            return client

    @classmethod
    def find(cls, namespace: str) -> SupervisorClient | None:
        """The cluster's supervisor in ``namespace`` if one runs; never creates one."""
        handle = find_supervisor(namespace)
        return None if handle is None else cls(handle)

    # --- scenarios ------------------------------------------------------------------------

    async def run_session(self, request: SessionRequest, ticket: SessionTicket) -> SessionResult:
        """Run one scenario to its end. Cancelling this stops the session cleanly.

        Raises:
            CapacityError: refused (the queue is full, the job was stopped, or draining).
            ActorLostError: the supervisor died (the scenario may or may not have started).
        """
        ref = self._handle.run_session.remote(seal(request), seal(ticket))
        try:
            result: SessionResult = await ref
        except asyncio.CancelledError:
            ray.cancel(ref)  # the supervisor stops the session and frees its slot
            raise
        except RayError as error:
            raise voxray_error(error, actor=self.ACTOR) from error
        return result

    async def cancel_queued(self, job_id: str) -> int:
        """Refuse ``job_id``'s waiting scenarios (with ``CapacityError``); how many."""
        return int(await self._acall(self._handle.cancel_queued.remote(job_id)))

    async def stop_job(self, job_id: str, reason: str) -> int:
        """Stop ``job_id``'s live sessions cleanly (and refuse its queued ones); how many."""
        return int(await self._acall(self._handle.stop_job.remote(job_id, reason)))

    async def sessions(self) -> list[LiveSessionInfo]:
        """The sessions running now."""
        sessions: list[LiveSessionInfo] = await self._acall(self._handle.sessions.remote())
        return sessions

    async def warm_up(self, timeout_s: float = 60.0) -> SupervisorStatus:
        """Until every live node has its warm actors (benchmarks, tests)."""
        status: SupervisorStatus = await self._acall(self._handle.warm_up.remote(timeout_s))
        return status

    # --- live sessions --------------------------------------------------------------------

    def open_session(
        self, request: LiveSessionRequest, ticket: SessionTicket, *, timeout_s: float | None
    ) -> SessionLease:
        """A live session on a warm actor, once the provider confirmed its configuration."""
        lease: SessionLease = self._get(
            self._handle.open_session.remote(seal(request), seal(ticket)), timeout_s=timeout_s
        )
        return lease

    async def aopen_session(
        self, request: LiveSessionRequest, ticket: SessionTicket
    ) -> SessionLease:
        """:meth:`open_session` for asyncio code."""
        lease: SessionLease = await self._acall(
            self._handle.open_session.remote(seal(request), seal(ticket))
        )
        return lease

    def close_session(self, lease_id: int) -> SessionResult:
        """Close a live session and give its slot back; what it did."""
        result: SessionResult = self._get(self._handle.close_session.remote(lease_id))
        return result

    async def aclose_session(self, lease_id: int) -> SessionResult:
        """:meth:`close_session` for asyncio code."""
        result: SessionResult = await self._acall(self._handle.close_session.remote(lease_id))
        return result

    # --- the cluster ----------------------------------------------------------------------

    def status(self, *, timeout_s: float | None = 30.0) -> SupervisorStatus:
        """Nodes, sessions, caps, queue and recent failures."""
        status: SupervisorStatus = self._get(self._handle.status.remote(), timeout_s=timeout_s)
        return status

    def drain(self, deadline_s: float) -> DrainReport:
        """Stop admission, let live sessions finish until ``deadline_s``, stop them; then
        remove the supervisor (the next job starts a fresh one)."""
        report: DrainReport = self._get(self._handle.drain.remote(deadline_s))
        self.kill()
        return report

    async def adrain(self, deadline_s: float) -> DrainReport:
        """:meth:`drain` for asyncio code."""
        report: DrainReport = await self._acall(self._handle.drain.remote(deadline_s))
        self.kill()
        return report

    def ping(self, *, timeout_s: float | None = 30.0) -> None:
        """Return once the supervisor answers."""
        self._get(self._handle.ping.remote(), timeout_s=timeout_s)

    def kill(self) -> None:
        """Remove the supervisor at once (what :meth:`drain` does after draining)."""
        self._kill()

    def __repr__(self) -> str:
        return f"SupervisorClient({self._handle!r})"
