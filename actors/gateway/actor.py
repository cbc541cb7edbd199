"""The Ray shell of a gateway: one detached actor per node, owning its sockets.

Thin on purpose: :class:`~voxray.actors.gateway.server.GatewayServer` is plain asyncio. The
actor is detached (it keeps serving when the driver that started it goes), never restarted
(a restart would lose its calls' state), and hosts its calls' conversations in its own process:
a caller's audio goes socket to socket inside this process, never through a Ray call. Function
calls run in a tool-runner pool of its own (the same isolation evals get).

Why not Ray Serve: an open websocket counts as one ongoing request against
``max_ongoing_requests`` (default 5), a replica is shut down 20 s after a redeploy (cutting
calls), and every frame would cross Serve's proxy process; a long phone call wants none of that.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import ray
from pydantic import BaseModel, ConfigDict, SecretStr
from ray.exceptions import RayActorError, RayError, RayTaskError
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.errors import CapacityError
from voxray.actors.gateway.admission import CallRefused
from voxray.actors.gateway.agents import HostedAgent
from voxray.actors.gateway.server import GatewayServer
from voxray.actors.gateway.settings import GatewaySettings
from voxray.actors.heap import freeze_startup_heap
from voxray.actors.priority import run_at_normal_priority
from voxray.actors.sealed import seal, unseal
from voxray.actors.supervision.settings import SupervisorSettings
from voxray.actors.supervisor import get_supervisor
from voxray.actors.tools.pool import ToolPool
from voxray.actors.tools.settings import ToolPoolSettings

__all__ = [
    "GATEWAY_PREFIX",
    "GatewayActor",
    "GatewayDrain",
    "GatewayLaunch",
    "GatewayStatus",
    "SupervisorAdmitter",
]

GATEWAY_PREFIX = "voxray-gateway-"
"""Gateway actors are named ``voxray-gateway-<node id prefix>`` in voxray's namespace."""


class GatewayLaunch(BaseModel):
    """Everything a gateway actor starts with (built in the driver by ``voxray serve``, sent
    with its secrets sealed: :mod:`voxray.actors.sealed`)."""

    model_config = ConfigDict(frozen=True)

    settings: GatewaySettings
    agents: list[HostedAgent]
    endpoints: dict[str, ProviderEndpoint]
    tuning: EngineTuning
    tools: ToolPoolSettings
    namespace: str
    supervisor: SupervisorSettings | None = None
    """Claim each call's slot from the cluster's supervisor (created with these settings when
    none runs): the same caps as every session. None: only the gateway's own ``max_calls``."""
    quota: SecretStr | None = None
    """Names the cap calls count against (the API key; a simulator's URL offline)."""


class GatewayStatus(BaseModel):
    """One gateway as ``voxray status`` shows it."""

    model_config = ConfigDict(frozen=True)

    node_id: str
    url: str
    state: str
    calls_live: int
    calls_total: int
    refused: int
    agents: list[str]
    cpu_s: float
    pid: int


class GatewayDrain(BaseModel):
    """What a gateway's drain did."""

    model_config = ConfigDict(frozen=True)

    finished: int
    stopped: int
    elapsed_s: float


class SupervisorAdmitter:
    """Each call's slot from the supervisor (``claim_call``): refused at once over a cap."""

    def __init__(self, supervisor: Any, quota: SecretStr, owner: str | None = None) -> None:
        self._supervisor = supervisor
        self._quota = quota
        self._owner = owner

    async def claim(self) -> object:
        try:
            slot_id: int = await self._supervisor.claim_call.remote(self._quota, owner=self._owner)
        except RayTaskError as error:
            if isinstance(error.cause, CapacityError):
                raise CallRefused("capacity", error.cause.message) from None
            raise CallRefused(
                "capacity", f"admission failed: {type(error.cause).__name__}"
            ) from None
        except RayActorError:
            raise CallRefused("draining", "the cluster's supervisor is gone (drained)") from None
        return slot_id

    async def release(self, slot: object) -> None:
        with contextlib.suppress(RayError):
            await self._supervisor.release_call.remote(slot)

    async def ready(self) -> None:
        """Until the supervisor answers (created, its nodes read): a call's claim is then one
        actor call, not the supervisor's start (≈ 1 s)."""
        await self._supervisor.status.remote()


class _Gateway:
    def __init__(self) -> None:
        run_at_normal_priority()  # callers' audio is real-time work
        self._server: GatewayServer | None = None
        self._tools: ToolPool | None = None

    async def start(self, launch: GatewayLaunch) -> list[str]:
        """Listen; returns the lines saying where each ingress listens. Idempotent."""
        if self._server is None:
            # Its secrets come sealed (voxray.actors.sealed): read once, now, while the driver
            # that sealed them waits for this call; the gateway then holds them (it outlives
            # that driver).
            launch = await unseal(launch, what="the gateway's secrets")
            admitter = None
            if launch.supervisor is not None and launch.quota is not None:
                # Created now (it starts while the tool pool does) and awaited below, so the
                # first caller does not wait for the supervisor's process to start.
                supervisor = get_supervisor(launch.supervisor, launch.namespace)
                # Named, so the supervisor gives this gateway's slots back if it dies.
                owner = ray.get_runtime_context().get_actor_name()
                # Sealed again here: this process owns the copy the supervisor reads per call.
                admitter = SupervisorAdmitter(supervisor, seal(launch.quota), owner)
            self._tools = ToolPool.from_settings(launch.tools, namespace=launch.namespace)
            await self._tools.wait_ready()
            if admitter is not None:
                await admitter.ready()
            endpoints = launch.endpoints
            server = GatewayServer(
                launch.settings,
                launch.agents,
                endpoints=lambda agent: endpoints[agent.name],
                tools=self._tools,
                tuning=launch.tuning,
                admitter=admitter,
                node_id=ray.get_runtime_context().get_node_id(),
            )
            await server.start()
            self._server = server
            freeze_startup_heap()
        return [f"gateway  {self._server.url}", *self._server.describe()]

    def status(self) -> GatewayStatus:
        """Calls now, total, refused, and this process's CPU time."""
        server = self._require()
        calls = server.context.calls
        return GatewayStatus(
            node_id=server.context.metrics.node_id,
            url=server.url,
            state=calls.state.value,
            calls_live=calls.live,
            calls_total=calls.total,
            refused=calls.refused,
            agents=server.context.agents.names,
            cpu_s=time.process_time(),
            pid=os.getpid(),
        )

    async def drain(self, deadline_s: float | None = None) -> GatewayDrain:
        """Refuse new calls (503), let live ones run to the deadline, then end them."""
        outcome = await self._require().drain(deadline_s)
        return GatewayDrain(
            finished=outcome.finished, stopped=outcome.stopped, elapsed_s=outcome.elapsed_s
        )

    async def stop(self) -> None:
        """End live calls now, stop listening, stop the tool pool."""
        if self._server is not None:
            await self._server.aclose()
        if self._tools is not None:
            self._tools.shutdown()

    def _require(self) -> GatewayServer:
        if self._server is None:
            raise RuntimeError("the gateway was not started")
        return self._server


GatewayActor: Any = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=1000)(_Gateway)
