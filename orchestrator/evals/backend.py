"""Where an eval job's sessions connect: the real service, or a simulator actor that comes back.

With the ``sim`` backend the job starts one simulator actor (named ``voxray-sim-<job id>`` in
the fleet's namespace) and registers each scenario's scripted brain with it under a token of
its own: the token is the API key the session uses, so the rules reach the simulator without
changing anything a real client sends on the wire. All of a job's simulator tokens count
against one session cap, as one xAI key would.

A simulator actor can die (killed, its process crashed, out of memory). Every endpoint handed
out carries the simulator's *generation*; a run whose session did not complete while its
generation died is not judged: :meth:`SimBackend.recover` starts a new simulator (at most
``max_restarts`` times per job) and the runner runs it again. When the simulator cannot come
back, recover says so and the runner records the run as unfinished, for ``--resume``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pydantic import SecretStr
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.errors import ActorLostError, ActorTimeoutError, VoxrayError
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.rules import BrainScript
from voxray.handles.simulator import SimulatorClient
from voxray.settings import VoxraySettings

__all__ = ["Backend", "Lease", "SimBackend", "open_backend"]

logger = logging.getLogger("voxray.backend")

_MAX_SIM_RESTARTS = 3


@dataclass(frozen=True)
class Lease:
    """An endpoint for one session, and which simulator generation serves it (0: none)."""

    endpoint: ProviderEndpoint
    generation: int = 0


class Backend:
    """Where a job's sessions connect: as it is, the real xAI service (nothing to start, nothing
    that dies under a run); :class:`SimBackend` is the simulator."""

    speed = 1.0

    def __init__(self, settings: VoxraySettings) -> None:
        self._settings = settings

    @property
    def quota(self) -> SecretStr | None:
        """The session cap a job counts against; None: the endpoint's API key."""
        return None

    async def lease(self, script: BrainScript) -> Lease:
        """An endpoint for a session following ``script`` (the simulator's only)."""
        return Lease(self._settings.xai_endpoint())

    async def lost(self, lease: Lease) -> bool:
        """Whether the backend that served ``lease`` died since (its run is not judged)."""
        return False

    async def recover(self, generation: int) -> bool:
        """Bring the backend back after ``generation`` died; whether a working one is there."""
        return True

    async def aclose(self) -> None:
        """Stop what the backend started."""


class SimBackend(Backend):
    """A simulator actor for one job, started again when it dies."""

    def __init__(
        self,
        settings: VoxraySettings,
        *,
        name: str,
        max_restarts: int = _MAX_SIM_RESTARTS,
    ) -> None:
        super().__init__(settings)
        self.speed = settings.sim_speed
        self._name = name
        self._max_restarts = max_restarts
        self._client: SimulatorClient | None = None
        self._generation = 0
        self.restarts = 0
        """How many times the simulator was started again."""
        self._lock = asyncio.Lock()

    @property
    def quota(self) -> SecretStr:
        return SecretStr(f"sim:{self._settings.namespace}/{self._name}")

    @property
    def generation(self) -> int:
        """Which simulator serves new leases: 1 for the first, +1 for each restart."""
        return self._generation

    async def start(self) -> None:
        """Start the first simulator."""
        async with self._lock:
            if self._client is None:
                await self._start_locked()

    async def lease(self, script: BrainScript) -> Lease:
        """An endpoint of the current simulator; a dead one is started again first.

        Raises:
            ActorLostError: the simulator is gone and may not be started again.
        """
        while True:
            async with self._lock:  # not while a restart is under way
                client, generation = self._require()
            try:
                return Lease(await client.aendpoint(script), generation)
            except (ActorLostError, ActorTimeoutError):
                if not await self.recover(generation):
                    raise

    async def lost(self, lease: Lease) -> bool:
        if lease.generation != self._generation or self._client is None:
            return True
        return not await self._client.alive()

    async def recover(self, generation: int) -> bool:
        async with self._lock:
            if generation != self._generation:
                return self._client is not None  # another run restarted it already
            if self._client is not None and await self._client.alive():
                return True
            if self.restarts >= self._max_restarts:
                logger.error(
                    "the simulator died %d times; not starting it again", self.restarts + 1
                )
                self._client = None
                return False
            logger.warning("the simulator actor died; starting a new one")
            if self._client is not None:
                self._client.kill()
                self._client = None
            self.restarts += 1
            try:
                await self._start_locked()
            except VoxrayError as error:
                logger.error("the simulator could not be started again: %s", error)
                return False
            return True

    async def aclose(self) -> None:
        async with self._lock:
            if self._client is not None:
                await self._client.astop()
                self._client = None

    async def _start_locked(self) -> None:
        config = SimulatorConfig(
            speed=self.speed,
            host=self._settings.sim_host,
            transcribe=self._settings.sim_transcribe,
        )
        name = self._name if self._generation == 0 else f"{self._name}-{self._generation}"
        self._client = await SimulatorClient.astart(
            config, name=name, namespace=self._settings.namespace
        )
        self._generation += 1

    def _require(self) -> tuple[SimulatorClient, int]:
        if self._client is None:
            raise ActorLostError(
                "the simulator died and could not be started again", actor="simulator"
            )
        return self._client, self._generation


async def open_backend(backend: str, settings: VoxraySettings, *, job_id: str) -> Backend:
    """The started backend of a job (``"sim"`` or ``"xai"``)."""
    if backend == "xai":
        settings.xai_endpoint()  # no key: a clear error before any session starts
        return Backend(settings)
    sim = SimBackend(settings, name=f"voxray-sim-{job_id}")
    await sim.start()
    return sim
