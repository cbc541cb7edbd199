"""The driver's client of a simulator actor (the ``sim`` backend): the one place one starts.

The actor runs next to the driver (soft node affinity: anywhere if this node goes) and takes no
CPU from scheduling. Each scenario registers its scripted brain and gets a token to use as its
API key, so the rules reach the simulator without changing anything a client sends on the wire.
Ray's errors about the actor become voxray's here: a dead simulator is an
:class:`~voxray.actors.errors.ActorLostError` with ``actor="simulator"``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from pydantic import SecretStr
from ray.exceptions import RayError
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.sealed import seal
from voxray.actors.simulator.actor import SimulatorActor
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.faults import FaultAction, FaultPlan
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.simulator.sip_caller import SipCallReport, SipCallScript
from voxray.actors.supervision.placement import affinity
from voxray.handles import ray_errors
from voxray.handles.base import ActorClient

__all__ = ["SimulatorClient"]

logger = logging.getLogger("voxray.simulator")

_STOP_TIMEOUT_S = 10.0


class SimulatorClient(ActorClient):
    """A started simulator actor. Create it with :meth:`start` (or :meth:`astart`)."""

    ACTOR = "simulator"

    def __init__(self, handle: Any, url: str) -> None:
        super().__init__(handle)
        self.url = url
        """The simulator's websocket URL."""

    @staticmethod
    def _create(name: str | None, namespace: str | None, detached: bool) -> Any:
        here = ray.get_runtime_context().get_node_id()
        options: dict[str, Any] = {"num_cpus": 0, "scheduling_strategy": affinity(here)}
        if name is not None:
            options |= {"name": name, "namespace": namespace}
        if detached:  # outlives this driver; a second start finds the running one
            options |= {"lifetime": "detached", "get_if_exists": True}
        return SimulatorActor.options(**options).remote()

    @classmethod
    def start(
        cls,
        config: SimulatorConfig,
        *,
        name: str | None = None,
        namespace: str | None = None,
        detached: bool = False,
    ) -> SimulatorClient:
        """Start a simulator actor (named ``name`` in ``namespace``, if given) and its server.

        ``detached`` (needs ``name``): the actor outlives this driver, and a start that finds
        it running (same name) returns it as it is.
        """
        if detached and name is None:
            raise ValueError("a detached simulator needs a name")
        handle = cls._create(name, namespace, detached)
        url: str = ray_errors.get(handle.start.remote(config), actor=cls.ACTOR)
        return cls(handle, url)

    @classmethod
    async def astart(
        cls, config: SimulatorConfig, *, name: str | None = None, namespace: str | None = None
    ) -> SimulatorClient:
        """:meth:`start` for asyncio code (never detached)."""
        handle = cls._create(name, namespace, detached=False)
        url: str = await ray_errors.call(handle.start.remote(config), actor=cls.ACTOR)
        return cls(handle, url)

    def endpoint(self, script: BrainScript | None = None) -> ProviderEndpoint:
        """An endpoint whose sessions follow ``script`` (default: echo)."""
        token: str = self._get(self._handle.register.remote(script or BrainScript()))
        return ProviderEndpoint(url=self.url, api_key=SecretStr(token))

    async def aendpoint(self, script: BrainScript | None = None) -> ProviderEndpoint:
        """:meth:`endpoint` for asyncio code."""
        token: str = await self._acall(self._handle.register.remote(script or BrainScript()))
        return ProviderEndpoint(url=self.url, api_key=SecretStr(token))

    async def inject(self, fault: FaultAction | FaultPlan, token: str | None = None) -> int:
        """Arm a fault on open sessions (of ``token``, else all); how many it reached."""
        return int(await self._acall(self._handle.inject.remote(fault, token)))

    async def place_calls(
        self,
        webhook_url: str,
        secret: SecretStr,
        scripts: list[SipCallScript],
        *,
        arrival_gap_s: float = 0.0,
    ) -> list[SipCallReport]:
        """Ring one scripted SIP call per script (one every ``arrival_gap_s``) at the gateway
        whose webhook is ``webhook_url``, signed with ``secret`` (sent sealed: it never sits in
        the call's arguments); each call's report."""
        ref = self._handle.place_calls.remote(webhook_url, seal(secret), scripts, arrival_gap_s)
        reports: list[SipCallReport] = await self._acall(ref)
        return reports

    async def alive(self, timeout_s: float = 5.0) -> bool:
        """Whether the actor answers within ``timeout_s``."""
        try:
            await asyncio.wait_for(self._handle.url.remote(), timeout=timeout_s)
        except (RayError, TimeoutError):
            return False
        return True

    def stop(self) -> None:
        """Close every simulated session and remove the actor. Idempotent."""
        try:
            ray.get(self._handle.stop.remote(), timeout=_STOP_TIMEOUT_S)
        except RayError as error:  # it is removed next anyway
            logger.debug("the simulator did not stop cleanly: %s", error)
        self.kill()

    async def astop(self) -> None:
        """:meth:`stop` for asyncio code."""
        try:
            await asyncio.wait_for(self._handle.stop.remote(), timeout=_STOP_TIMEOUT_S)
        except (RayError, TimeoutError) as error:
            logger.debug("the simulator did not stop cleanly: %s", error)
        self.kill()

    def kill(self) -> None:
        """Remove the simulator actor at once."""
        self._kill()

    def __repr__(self) -> str:
        return f"SimulatorClient(url={self.url!r})"
