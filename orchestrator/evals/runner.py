"""Run an evaluation suite: submit scenarios to the supervisor, score and record each result.

Results are scored and appended to ``results.jsonl`` the moment each scenario finishes, so a
killed run loses nothing already done and ``--resume`` can skip it. With the ``sim`` backend a
simulator actor is started for the run, and each scenario's scripted rules are registered with
it under a token of their own: the token is the API key the session uses, so the rules reach the
simulator without changing anything a real client sends on the wire.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
from pydantic import SecretStr

from actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from actors.conversation.result import SessionResult
from actors.session import SessionRequest
from actors.simulator.actor import SimulatorActor
from actors.simulator.config import SimulatorConfig
from actors.supervisor import get_supervisor
from orchestrator.evals.outputs import RunDirectory, ScenarioRecord
from orchestrator.evals.scoring import score
from orchestrator.evals.suite import ScenarioSpec, Suite
from orchestrator.settings import VoxraySettings

__all__ = ["EvalJob", "run_key", "run_suite"]


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

    async def start(self) -> None:
        if self._suite.backend == "xai":
            self._settings.xai_endpoint()  # fail fast, before any session starts, without a key
            return
        self._simulator = SimulatorActor.options(num_cpus=0).remote()
        self._url = await self._simulator.start.remote(SimulatorConfig(speed=self.speed))

    async def endpoint(self, spec: ScenarioSpec) -> ProviderEndpoint:
        if self._simulator is None:
            return self._settings.xai_endpoint()
        token: str = await self._simulator.register.remote(spec.sim)
        return ProviderEndpoint(url=self._url, api_key=SecretStr(token))

    async def aclose(self) -> None:
        if self._simulator is not None:
            try:
                await self._simulator.stop.remote()
            finally:
                ray.kill(self._simulator)
                self._simulator = None


async def run_suite(
    suite: Suite,
    jobs: list[EvalJob],
    settings: VoxraySettings,
    run_dir: RunDirectory,
    *,
    on_start: Callable[[EvalJob], None] = lambda job: None,
    on_record: Callable[[ScenarioRecord], None] = lambda record: None,
) -> list[ScenarioRecord]:
    """Run ``jobs`` with at most ``suite.concurrency`` at once; returns their records."""
    supervisor = get_supervisor(settings.supervisor, settings.namespace)
    backend = _Backend(suite, settings)
    await backend.start()
    tuning: EngineTuning = settings.engine.model_copy(update={"speed": backend.speed})
    gate = asyncio.Semaphore(suite.concurrency)
    records: list[ScenarioRecord] = []

    async def run_one(job: EvalJob) -> None:
        async with gate:
            on_start(job)
            request = SessionRequest(
                session_id=f"{job.key}-{uuid.uuid4().hex[:6]}",
                agent=job.spec.agent,
                script=job.spec.script(),
                endpoint=await backend.endpoint(job.spec),
                tuning=tuning,
            )
            try:
                result: SessionResult = await supervisor.run_session.remote(request)
            except ray.exceptions.RayError as error:
                result = SessionResult(
                    status="lost", error=f"SessionLostError: the supervisor failed: {error}"
                )
        recording = run_dir.write_recording(job.key, result.recording) if result.recording else None
        record = ScenarioRecord.from_result(
            job.key, job.spec, job.repeat_index, result, score(job.spec, result), recording
        )
        run_dir.append_result(record)
        records.append(record)
        on_record(record)

    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(run_one(job), name=f"eval-{job.key}")
    finally:
        await backend.aclose()
    return records
