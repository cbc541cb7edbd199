"""The Ray shell around :class:`~voxray.actors.simulator.server.Simulator`.

Thin on purpose: the server is plain asyncio and tested without Ray; this class only gives it
a home in the cluster. ``num_cpus=0`` because the simulator mostly waits on sockets and must
never block scheduling of the sessions that talk to it.
"""

from __future__ import annotations

import asyncio

import aiohttp
import ray
from pydantic import SecretStr
from voxray.actors.heap import freeze_startup_heap
from voxray.actors.priority import run_at_normal_priority
from voxray.actors.sealed import unseal
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.faults import FaultAction, FaultPlan
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.simulator.server import Simulator
from voxray.actors.simulator.sip_caller import SipCallReport, SipCallScript

__all__ = ["SimulatorActor", "SimulatorActorImpl"]


class SimulatorActorImpl:
    """Async actor hosting one simulator. ``start()`` listens; ``stop()`` closes."""

    def __init__(self) -> None:
        self._simulator: Simulator | None = None

    async def start(self, config: SimulatorConfig | None = None) -> str:
        """Start the server (once); returns its websocket URL."""
        if self._simulator is None:
            self._simulator = Simulator(config)
            url = await self._simulator.start()
            freeze_startup_heap()  # a real-time server: keep GC pauses off its event loop
            run_at_normal_priority()  # and keep its audio on time next to other processes
            return url
        return self._simulator.url

    def register(self, script: BrainScript) -> str:
        """A bearer token bound to ``script`` (see :meth:`Simulator.register`)."""
        return self._require().register(script)

    async def inject(self, fault: FaultAction | FaultPlan, token: str | None = None) -> int:
        """Arm a fault on open sessions while running (see :meth:`Simulator.inject`)."""
        return await self._require().inject(fault, token)

    def url(self) -> str:
        """The websocket URL."""
        return self._require().url

    async def place_call(
        self, webhook_url: str, secret: SecretStr, script: SipCallScript | None = None
    ) -> SipCallReport:
        """Place a scripted SIP call (see :meth:`Simulator.place_call`); ``secret`` may come
        sealed (:mod:`voxray.actors.sealed`)."""
        secret = await unseal(secret, what="the webhook secret")
        return await self._require().place_call(webhook_url, secret, script)

    async def place_calls(
        self,
        webhook_url: str,
        secret: SecretStr,
        scripts: list[SipCallScript],
        arrival_gap_s: float = 0.0,
    ) -> list[SipCallReport]:
        """Place several calls at once, one every ``arrival_gap_s`` (for benchmarks): one Ray
        call for the lot, the calls themselves run concurrently in the simulator. ``secret`` may
        come sealed (:mod:`voxray.actors.sealed`)."""
        simulator = self._require()
        secret = await unseal(secret, what="the webhook secret")
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

            async def place(index: int, script: SipCallScript) -> SipCallReport:
                await asyncio.sleep(index * arrival_gap_s)
                return await simulator.place_call(webhook_url, secret, script, http=http)

            return list(await asyncio.gather(*(place(i, s) for i, s in enumerate(scripts))))

    def input_audio(self, token: str) -> list[dict[str, int | str]]:
        """Input audio per connection of ``token`` (see :meth:`Simulator.input_audio`)."""
        return self._require().input_audio(token)

    def statistics(self) -> dict[str, int]:
        """Connection counters of the server."""
        return self._require().statistics()

    async def stop(self) -> None:
        """Close every session and stop listening. Idempotent."""
        if self._simulator is not None:
            await self._simulator.aclose()

    def _require(self) -> Simulator:
        if self._simulator is None:
            raise RuntimeError("SimulatorActor.start() was not called")
        return self._simulator


SimulatorActor = ray.remote(num_cpus=0, max_concurrency=1000)(SimulatorActorImpl)
"""The remote class: ``SimulatorActor.remote()`` then ``await handle.start.remote(config)``."""
