"""Run an evaluation suite: submit scenarios to the supervisor, score and record each result.

Results are scored and appended to ``results.jsonl`` the moment each scenario finishes, so a
killed run loses nothing already done and ``--resume`` can skip it. With the ``sim`` backend a
simulator actor is started for the run, and each scenario's scripted rules are registered with
it under a token of their own: the token is the API key the session uses, so the rules reach the
simulator without changing anything a real client sends on the wire. All of a run's simulator
tokens count against one session cap, as one xAI key would.

A run is one job of the supervisor (fair queueing across jobs, ``voxray status`` per job). A
lost session (its actor died, its node left, it stalled) is re-run up to ``retries`` times.

SIGTERM drains the job: no scenario starts any more, the queued ones are withdrawn, the live
ones get until ``settings.drain_deadline_s`` to finish and are then stopped cleanly; what did
not finish is not recorded, so ``--resume`` runs it later. A second SIGTERM stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
from pydantic import SecretStr
from ray.exceptions import RayActorError, RayError, RayTaskError
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.result import SessionResult
from voxray.actors.errors import CapacityError
from voxray.actors.session import SessionRequest
from voxray.actors.simulator.actor import SimulatorActor
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.supervision.models import SessionTicket
from voxray.actors.supervision.placement import affinity
from voxray.actors.supervisor import get_supervisor
from voxray.evals.outputs import RunDirectory, ScenarioRecord
from voxray.evals.scoring import score
from voxray.evals.suite import ScenarioSpec, Suite
from voxray.settings import VoxraySettings

__all__ = ["EvalJob", "JobDrain", "plan_jobs", "run_key", "run_suite"]

logger = logging.getLogger("voxray.runner")


@dataclass(frozen=True)
class EvalJob:
    """One scenario run: a scenario and which repeat of it."""

    spec: ScenarioSpec
    repeat_index: int
    key: str


def run_key(spec: ScenarioSpec, repeat_index: int, repeats: int) -> str:
    """The stable key of a run in results.jsonl (and its recording's file name)."""
    return spec.name if repeats == 1 else f"{spec.name}#{repeat_index + 1}"


def plan_jobs(suite: Suite, specs: list[ScenarioSpec], done: set[str]) -> list[EvalJob]:
    """Every (scenario, repeat) still to run, skipping keys already in ``done``."""
    jobs = [
        EvalJob(spec, index, run_key(spec, index, suite.repeat))
        for spec in specs
        for index in range(suite.repeat)
    ]
    return [job for job in jobs if job.key not in done]


class _Backend:
    """Where sessions connect: the simulator (one per run) or the real service."""

    def __init__(self, suite: Suite, settings: VoxraySettings) -> None:
        self._suite = suite
        self._settings = settings
        self._simulator: Any = None
        self._url = settings.xai_url

    @property
    def speed(self) -> float:
        return self._settings.sim_speed if self._suite.backend == "sim" else 1.0

    @property
    def quota(self) -> SecretStr | None:
        """The session cap the run counts against: one per simulator, else the xAI key's."""
        return SecretStr(f"sim:{self._url}") if self._simulator is not None else None

    async def start(self) -> None:
        if self._suite.backend == "xai":
            self._settings.xai_endpoint()  # fail fast, before any session starts, without a key
            return
        # Next to the driver (soft: anywhere if this node goes), like the supervisor.
        here = ray.get_runtime_context().get_node_id()
        self._simulator = SimulatorActor.options(
            num_cpus=0, scheduling_strategy=affinity(here)
        ).remote()
        config = SimulatorConfig(speed=self.speed, host=self._settings.sim_host)
        self._url = await self._simulator.start.remote(config)

    async def endpoint(self, spec: ScenarioSpec) -> ProviderEndpoint:
        if self._simulator is None:
            return self._settings.xai_endpoint()
        token: str = await self._simulator.register.remote(spec.sim)
        return ProviderEndpoint(url=self._url, api_key=SecretStr(token))

    async def aclose(self) -> None:
        if self._simulator is not None:
            try:
                await self._simulator.stop.remote()
            except RayError as error:
                logger.warning("the simulator did not stop cleanly: %s", error)
            finally:
                ray.kill(self._simulator)
                self._simulator = None


class JobDrain:
    """Stops a running job gracefully: no new scenarios, queued ones withdrawn, live ones
    given until a deadline, then stopped cleanly through the supervisor."""

    def __init__(self) -> None:
        self._requested = asyncio.Event()
        self.deadline_s: float | None = None

    @property
    def requested(self) -> bool:
        """Whether a drain was asked for."""
        return self._requested.is_set()

    def request(self, deadline_s: float | None = None) -> None:
        """Ask for the drain (idempotent); ``deadline_s`` overrides the settings' deadline."""
        if deadline_s is not None:
            self.deadline_s = deadline_s
        self._requested.set()

    async def wait(self) -> None:
        """Until a drain is requested."""
        await self._requested.wait()


async def run_suite(
    suite: Suite,
    jobs: list[EvalJob],
    settings: VoxraySettings,
    run_dir: RunDirectory,
    *,
    on_start: Callable[[EvalJob], None] = lambda job: None,
    on_record: Callable[[ScenarioRecord], None] = lambda record: None,
    job_id: str | None = None,
    retries: int | None = None,
    drain: JobDrain | None = None,
    drain_on_sigterm: bool = True,
) -> list[ScenarioRecord]:
    """Run ``jobs`` with at most ``suite.concurrency`` at once; returns their records.

    Args:
        job_id: names the job at the supervisor (fair queueing, ``voxray status``).
        retries: re-runs of a scenario whose session was lost; default
            ``settings.session_retries``.
        drain: a handle to drain the job from elsewhere (the Python API).
        drain_on_sigterm: SIGTERM drains the job (main thread only; a second one cancels).
    """
    job_id = job_id or f"{suite.name}-{uuid.uuid4().hex[:8]}"
    drain = drain or JobDrain()
    supervisor = get_supervisor(settings.supervisor, settings.namespace)
    backend = _Backend(suite, settings)
    await backend.start()
    tuning: EngineTuning = settings.engine.model_copy(update={"speed": backend.speed})
    ticket = SessionTicket(
        job_id=job_id,
        retries=settings.session_retries if retries is None else retries,
        quota=backend.quota,
    )
    gate = asyncio.Semaphore(suite.concurrency)
    records: list[ScenarioRecord] = []

    async def run_one(job: EvalJob) -> None:
        async with gate:
            if drain.requested:
                return
            on_start(job)
            request = SessionRequest(
                session_id=f"{job.key}-{uuid.uuid4().hex[:6]}",
                agent=job.spec.agent,
                script=job.spec.script(),
                endpoint=await backend.endpoint(job.spec),
                tuning=tuning,
            )
            result = await _submit(supervisor, request, ticket)
        if drain.requested and (
            result.status == "lost" or (result.error or "").startswith("CapacityError")
        ):
            logger.info("%s did not finish before the drain; not recorded", job.key)
            return
        recording = run_dir.write_recording(job.key, result.recording) if result.recording else None
        record = ScenarioRecord.from_result(
            job.key, job.spec, job.repeat_index, result, score(job.spec, result), recording
        )
        run_dir.append_result(record)
        records.append(record)
        on_record(record)

    async def drain_when_asked() -> None:
        await drain.wait()
        deadline_s = drain.deadline_s if drain.deadline_s is not None else settings.drain_deadline_s
        logger.warning("draining job %s: live sessions get %.0f s", job_id, deadline_s)
        with contextlib.suppress(RayError):
            await supervisor.cancel_queued.remote(job_id)
        await asyncio.sleep(deadline_s)
        with contextlib.suppress(RayError):
            await supervisor.stop_job.remote(job_id, "stopped: its job was drained")

    main = asyncio.current_task()
    drainer = asyncio.create_task(drain_when_asked(), name=f"job-{job_id}-drain")
    with _sigterm_drains(drain, main, enabled=drain_on_sigterm):
        try:
            async with asyncio.TaskGroup() as group:
                for job in jobs:
                    group.create_task(run_one(job), name=f"eval-{job.key}")
        finally:
            drainer.cancel()
            await backend.aclose()
    return records


async def _submit(supervisor: Any, request: SessionRequest, ticket: SessionTicket) -> SessionResult:
    """One scenario through the supervisor; Ray's errors become a result here."""
    ref = supervisor.run_session.remote(request, ticket)
    try:
        result: SessionResult = await ref
    except asyncio.CancelledError:
        ray.cancel(ref)  # the supervisor stops the session cleanly and frees its slot
        raise
    except RayTaskError as error:
        cause = error.cause if isinstance(error.cause, Exception) else error
        kind = "CapacityError" if isinstance(cause, CapacityError) else type(cause).__name__
        return SessionResult(status="failed", error=f"{kind}: {cause}")
    except RayActorError as error:
        return SessionResult(status="lost", error=f"SessionLostError: the supervisor died: {error}")
    except RayError as error:
        return SessionResult(status="lost", error=f"SessionLostError: Ray failed: {error}")
    return result


@contextlib.contextmanager
def _sigterm_drains(drain: JobDrain, main: asyncio.Task[Any] | None, *, enabled: bool) -> Any:
    """While inside: SIGTERM requests the drain, a second SIGTERM cancels ``main``."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()

    def on_sigterm() -> None:
        if drain.requested and main is not None:
            main.cancel()
        drain.request()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except (NotImplementedError, RuntimeError):
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
