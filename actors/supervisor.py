"""The supervisor: one named, detached actor per cluster that admits and places sessions.

First cut: a hard cap on live sessions (claimed atomically: the actor is async and the cap is an
``asyncio.Semaphore``, so racing admissions cannot overshoot), one fresh session actor per
scenario, the tool-runner pool, and a record of recent failures. A session actor that dies is
mapped to :class:`~actors.errors.SessionLostError` here — the one boundary for Ray's actor
errors — and reported as a ``lost`` result, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

import ray
from pydantic import BaseModel, ConfigDict, Field
from ray.exceptions import RayActorError

from actors.conversation.result import SessionResult
from actors.errors import SessionLostError
from actors.session import SessionActor, SessionRequest
from actors.tools.pool import ToolPool

__all__ = [
    "SUPERVISOR_NAME",
    "SupervisorActor",
    "SupervisorSettings",
    "SupervisorStatus",
    "get_supervisor",
]

logger = logging.getLogger("voxray.supervisor")

SUPERVISOR_NAME = "supervisor"


class SupervisorSettings(BaseModel):
    """Admission and pools of the supervisor actor."""

    model_config = ConfigDict(frozen=True)

    max_sessions: int = Field(100, ge=1, description="Live provider sessions (xAI: 100/team).")
    tool_runners: int = Field(2, ge=1, description="Tool-runner actors in the pool.")


class SupervisorStatus(BaseModel):
    """A snapshot for ``voxray status`` and the Python API."""

    max_sessions: int
    live_sessions: int
    waiting: int
    completed: int
    failed: int
    lost: int
    recent_failures: list[str]


class _Supervisor:
    def __init__(self, settings: SupervisorSettings, namespace: str) -> None:
        self._settings = settings
        self._namespace = namespace
        self._slots = asyncio.Semaphore(settings.max_sessions)
        self._live = 0
        self._waiting = 0
        self._counts = {"completed": 0, "failed": 0, "lost": 0}
        self._failures: deque[str] = deque(maxlen=20)
        self._tool_pool: ToolPool | None = None
        self._pool_lock = asyncio.Lock()

    async def _tools(self) -> ToolPool:
        async with self._pool_lock:
            if self._tool_pool is None:
                self._tool_pool = ToolPool.start(
                    self._settings.tool_runners, namespace=self._namespace
                )
                await self._tool_pool.wait_ready()
            return self._tool_pool

    async def run_session(self, request: SessionRequest) -> SessionResult:
        """Admit, start a session actor, play the scenario, and report how it ended."""
        tools = await self._tools()
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        self._live += 1
        started = time.monotonic()
        actor = SessionActor.options(name=None).remote()
        try:
            result: SessionResult = await actor.run_scenario.remote(request, tools)
        except RayActorError as error:
            lost = SessionLostError(f"session actor of {request.session_id} died: {error}")
            result = SessionResult(status="lost", error=f"SessionLostError: {lost.message}")
        finally:
            self._live -= 1
            self._slots.release()
            ray.kill(actor)
        self._counts[result.status] += 1
        if result.status != "completed":
            elapsed = time.monotonic() - started
            self._failures.append(
                f"{request.session_id} {result.status} after {elapsed:.1f} s: {result.error}"
            )
        return result

    def status(self) -> SupervisorStatus:
        """Caps, live sessions, the queue and recent failures."""
        return SupervisorStatus(
            max_sessions=self._settings.max_sessions,
            live_sessions=self._live,
            waiting=self._waiting,
            completed=self._counts["completed"],
            failed=self._counts["failed"],
            lost=self._counts["lost"],
            recent_failures=list(self._failures),
        )

    def shutdown_tools(self) -> None:
        """Stop the tool-runner pool (it restarts on the next session)."""
        if self._tool_pool is not None:
            self._tool_pool.shutdown()
            self._tool_pool = None


SupervisorActor: Any = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=10_000)(_Supervisor)


def get_supervisor(settings: SupervisorSettings, namespace: str) -> Any:
    """The cluster's supervisor: found when it exists, created (detached) on first use."""
    return SupervisorActor.options(
        name=SUPERVISOR_NAME,
        namespace=namespace,
        lifetime="detached",
        get_if_exists=True,
    ).remote(settings, namespace)
