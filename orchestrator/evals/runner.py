"""Run an evaluation suite: submit scenarios to the supervisor, score and record each run.

Results are scored and appended to ``results.jsonl`` the moment each run ends, so a killed
driver loses nothing already done and ``--resume`` can skip it. Where sessions connect is the
job's backend (:mod:`voxray.evals.backend`: the real service, or a simulator actor that is
started again when it dies).

A job is one job of the supervisor (fair queueing across jobs, ``voxray status`` per job). A
lost session (its actor died, its node left, it stalled) is re-run up to ``retries`` times by
the supervisor.

Every planned run gets a record. A run that finished (completed, or failed on its own merits)
is judged; one that did not is recorded as such and never counted as a failure
(:mod:`voxray.evals.records`): ``not_run`` when it never started (refused for capacity,
withdrawn by a drain, no supervisor or simulator left), ``interrupted`` when it was cut short
(a drain's deadline, the supervisor's death, a cancel). ``--resume`` runs both again.

A drain (:class:`JobDrain`; ``voxray eval`` asks for one on SIGTERM or Ctrl-C): no run starts
any more, the queued ones are withdrawn, the live ones get until the drain's deadline to finish
and are then stopped cleanly. Cancelled (a second signal), the runs still open are recorded as
interrupted or not run, and the caller writes the outputs all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from voxray.actors.conversation.endpoint import EngineTuning
from voxray.actors.conversation.result import SessionResult
from voxray.actors.errors import ActorLostError, CapacityError, VoxrayError
from voxray.actors.session import SessionRequest
from voxray.actors.supervision.models import SessionTicket
from voxray.cluster import current_job_id
from voxray.evals.backend import Backend, open_backend
from voxray.evals.cassettes import CassettePlan
from voxray.evals.judge import with_judgement
from voxray.evals.outputs import RunDirectory
from voxray.evals.records import RunStatus, ScenarioRecord
from voxray.evals.scoring import score
from voxray.evals.suite import ScenarioSpec, Suite
from voxray.handles.supervisor import SupervisorClient
from voxray.settings import VoxraySettings

__all__ = ["JobDrain", "PlannedRun", "plan_runs", "run_key", "run_suite"]

logger = logging.getLogger("voxray.runner")

_BACKEND_RETRIES = 2
"""Times one run is run again because its simulator died under it."""


@dataclass(frozen=True)
class PlannedRun:
    """One scenario run: a scenario and which repeat of it."""

    spec: ScenarioSpec
    repeat_index: int
    key: str


def run_key(spec: ScenarioSpec, repeat_index: int, repeats: int) -> str:
    """The stable key of a run in results.jsonl (and its recording's file name)."""
    return spec.name if repeats == 1 else f"{spec.name}#{repeat_index + 1}"


def plan_runs(suite: Suite, specs: list[ScenarioSpec], done: set[str]) -> list[PlannedRun]:
    """Every (scenario, repeat) still to run, skipping keys already in ``done``."""
    runs = [
        PlannedRun(spec, index, run_key(spec, index, suite.repeat))
        for spec in specs
        for index in range(suite.repeat)
    ]
    return [run for run in runs if run.key not in done]


class JobDrain:
    """Stops a running job gracefully: no new runs, queued ones withdrawn, live ones given
    until a deadline, then stopped cleanly through the supervisor."""

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


class _Unfinished(Exception):
    """A run ends without being judged: record it as ``status`` for ``reason``."""

    def __init__(self, status: RunStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Job:
    """The state of one running job: what it talks to and why it stopped, if it did."""

    def __init__(
        self,
        *,
        suite: Suite,
        settings: VoxraySettings,
        run_dir: RunDirectory,
        job_id: str,
        supervisor: SupervisorClient,
        backend: Backend,
        drain: JobDrain,
        retries: int,
    ) -> None:
        self.suite = suite
        self.run_dir = run_dir
        self.job_id = job_id
        self.supervisor = supervisor
        self.backend = backend
        self.drain = drain
        self.judge = settings.judge
        self.cassettes = CassettePlan.for_job(suite, settings, run_dir.path)
        self.tuning: EngineTuning = settings.engine.model_copy(update={"speed": backend.speed})
        # Naming this driver lets the supervisor stop the runs if this process dies.
        self.ticket = SessionTicket(
            job_id=job_id, retries=retries, quota=backend.quota, driver_job=current_job_id()
        )
        self.stopped: str | None = None
        """Why no run starts any more (the supervisor died, no simulator is left)."""

    async def attempt(self, run: PlannedRun) -> ScenarioRecord:
        """Run ``run`` to a record, running it again while its simulator died under it."""
        for attempt in range(_BACKEND_RETRIES + 1):
            self.check_open()
            try:
                lease = await self.backend.lease(self.cassettes.sim_script(run.spec, run.key))
            except ActorLostError as error:  # the simulator, before the run started
                raise _Unfinished("not_run", str(error)) from error
            caller_endpoint = None
            if run.spec.caller is not None:  # the simulated caller's own session and script
                try:
                    caller_script = self.cassettes.caller_sim_script(run.spec, run.key)
                    caller_endpoint = (await self.backend.lease(caller_script)).endpoint
                except ActorLostError as error:
                    raise _Unfinished("not_run", str(error)) from error
            request = SessionRequest(
                caller_endpoint=caller_endpoint,
                session_id=f"{run.key}-{uuid.uuid4().hex[:6]}",
                agent=run.spec.agent,
                # Each repeat hears its own noise and losses, the same every time it is run.
                script=run.spec.script(seed=run.repeat_index),
                endpoint=lease.endpoint,
                tuning=self.tuning,
                record_dir=self.cassettes.record_dir(run.key),
            )
            result = await self._run_session(request)
            if result.status != "completed" and await self.backend.lost(lease):
                if attempt < _BACKEND_RETRIES and await self.backend.recover(lease.generation):
                    logger.warning("%s: its simulator died; running it again", run.key)
                    continue
                raise _Unfinished("interrupted", f"its simulator died: {result.error}")
            if result.status == "lost" and self.drain.requested:
                raise _Unfinished("interrupted", f"stopped by the job's drain: {result.error}")
            # Replay: a client that hung up before sending all it sent when recorded.
            result = await self.cassettes.judged(result, lease.endpoint, caller_endpoint)
            recording = (
                self.run_dir.write_recording(run.key, result.recording)
                if result.recording
                else None
            )
            verdict = score(run.spec, result)
            # expect.judge rubric items, by the backend's chat completions API (text only).
            verdict = await with_judgement(run.spec, result, verdict, lease.endpoint, self.judge)
            return ScenarioRecord.from_result(
                run.key, run.spec, run.repeat_index, result, verdict, recording
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run_session(self, request: SessionRequest) -> SessionResult:
        try:
            return await self.supervisor.run_session(request, self.ticket)
        except CapacityError as error:  # refused or withdrawn: it never started
            raise _Unfinished("not_run", f"refused: {error}") from error
        except ActorLostError as error:
            self.stop(f"the supervisor died: {error}")
            raise _Unfinished("interrupted", str(error)) from error
        except VoxrayError as error:  # the supervisor failed the call: not the scenario's doing
            raise _Unfinished("interrupted", f"{type(error).__name__}: {error}") from error

    def stop(self, reason: str) -> None:
        """No run starts from now on (the runs waiting to start are recorded not run)."""
        if self.stopped is None:
            logger.error("job %s stops: %s", self.job_id, reason)
            self.stopped = reason

    def check_open(self) -> None:
        """Raise :class:`_Unfinished` (not run) when the job stopped or is draining."""
        if self.stopped is not None:
            raise _Unfinished("not_run", self.stopped)
        if self.drain.requested:
            raise _Unfinished("not_run", "withdrawn: the job was drained before it started")


async def run_suite(
    suite: Suite,
    runs: list[PlannedRun],
    settings: VoxraySettings,
    run_dir: RunDirectory,
    *,
    on_start: Callable[[PlannedRun], None] = lambda run: None,
    on_record: Callable[[ScenarioRecord], None] = lambda record: None,
    job_id: str | None = None,
    retries: int | None = None,
    drain: JobDrain | None = None,
) -> list[ScenarioRecord]:
    """Run ``runs`` with at most ``suite.concurrency`` at once; returns their records (one
    per planned run, finished or not), in the order they ended.

    Args:
        job_id: names the job at the supervisor (fair queueing, ``voxray status``).
        retries: re-runs of a scenario whose session was lost; default
            ``settings.session_retries``.
        drain: a handle to drain the job from elsewhere (the Python API).

    Cancelled, it records the runs still open (interrupted or not run) before it re-raises.
    """
    job_id = job_id or f"{suite.name}-{uuid.uuid4().hex[:8]}"
    drain = drain or JobDrain()
    records: list[ScenarioRecord] = []
    started: set[str] = set()
    recorded: set[str] = set()

    def keep(record: ScenarioRecord) -> None:
        run_dir.append_result(record)
        records.append(record)
        recorded.add(record.key)
        on_record(record)

    def keep_the_rest(reason: str) -> None:
        for run in runs:
            if run.key not in recorded:
                status: RunStatus = "interrupted" if run.key in started else "not_run"
                keep(ScenarioRecord.unfinished(run.key, run.spec, run.repeat_index, status, reason))

    backend: Backend | None = None
    drainer: asyncio.Task[None] | None = None
    try:
        backend = await open_backend(suite.backend, settings, job_id=job_id)
        job = _Job(
            suite=suite,
            settings=settings,
            run_dir=run_dir,
            job_id=job_id,
            supervisor=SupervisorClient.ensure(settings.supervisor, settings.namespace),
            backend=backend,
            drain=drain,
            retries=settings.session_retries if retries is None else retries,
        )
        drainer = asyncio.create_task(_drain_when_asked(job, settings), name=f"job-{job_id}-drain")
        gate = asyncio.Semaphore(suite.concurrency)

        async def run_one(run: PlannedRun) -> None:
            async with gate:
                try:
                    job.check_open()
                    started.add(run.key)
                    on_start(run)
                    record = await job.attempt(run)
                except _Unfinished as unfinished:
                    logger.info("%s %s: %s", run.key, unfinished.status, unfinished.reason)
                    record = ScenarioRecord.unfinished(
                        run.key,
                        run.spec,
                        run.repeat_index,
                        unfinished.status,
                        unfinished.reason,
                    )
            keep(record)

        async with asyncio.TaskGroup() as group:
            for run in runs:
                group.create_task(run_one(run), name=f"eval-{run.key}")
    except asyncio.CancelledError:
        keep_the_rest("the job was cancelled")
        raise
    except VoxrayError as error:  # the backend could not start: nothing ran
        keep_the_rest(f"{type(error).__name__}: {error}")
        raise
    finally:
        if drainer is not None:
            drainer.cancel()
        if backend is not None:
            await backend.aclose()
    return records


async def _drain_when_asked(job: _Job, settings: VoxraySettings) -> None:
    drain = job.drain
    await drain.wait()
    deadline_s = drain.deadline_s if drain.deadline_s is not None else settings.drain_deadline_s
    logger.warning("draining job %s: live sessions get %.0f s", job.job_id, deadline_s)
    with contextlib.suppress(VoxrayError):
        await job.supervisor.cancel_queued(job.job_id)
    await asyncio.sleep(deadline_s)
    with contextlib.suppress(VoxrayError):
        await job.supervisor.stop_job(job.job_id, "stopped: its job was drained")
