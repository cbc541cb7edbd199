"""The Python API: ``Fleet`` connects to Ray, submits suites as jobs, opens live sessions.

::

    from voxray import Fleet

    with Fleet.connect() as fleet:                 # embedded Ray; "auto" joins `ray start`
        job = fleet.submit("configs/evals/smoke.yaml")
        for record in job:                         # as each scenario finishes
            print(record.key, record.passed)
        print(job.wait().summary.runs_passed)

        with fleet.open_session({"voice": "ara"}) as session:
            session.send_text("Hello!")
            for event in session.events():         # AgentAudio, AgentTranscript, ...
                ...

Jobs run on a private event-loop thread of the fleet, so they work the same from synchronous
code and from inside an asyncio program (``async for record in job``, ``await job``). A live
session talks to its session actor directly; the supervisor only admits it and takes it back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import numpy as np
import ray
from numpy.typing import NDArray
from pydantic import SecretStr
from ray.exceptions import RayActorError, RayTaskError
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.conversation.events import ConversationEvent
from voxray.actors.conversation.live import LiveSessionRequest
from voxray.actors.conversation.result import SessionResult
from voxray.actors.errors import ConfigError, SessionLostError, VoxrayError
from voxray.actors.simulator.actor import SimulatorActor
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.supervision.models import (
    DrainReport,
    SessionLease,
    SessionTicket,
    SupervisorStatus,
)
from voxray.actors.supervision.placement import affinity
from voxray.actors.supervisor import find_supervisor, get_supervisor
from voxray.cluster import connect_ray, disconnect_ray
from voxray.evals.outputs import RunDirectory, RunSummary, ScenarioRecord, summarize
from voxray.evals.report import write_report
from voxray.evals.runner import JobDrain, plan_jobs, run_suite
from voxray.evals.suite import Suite, load_suite, select
from voxray.settings import VoxraySettings

__all__ = ["Fleet", "Job", "JobResult", "Session"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class JobResult:
    """How a job ended: its records (in finishing order) and their summary."""

    job_id: str
    run_dir: Path
    records: list[ScenarioRecord]
    summary: RunSummary
    cancelled: bool
    report: Path
    """``report.html`` (beside ``results.jsonl``, ``summary.json`` and ``junit.xml``)."""

    @property
    def passed(self) -> bool:
        """Every scenario reached the suite's pass threshold (and something ran)."""
        return bool(self.records) and self.summary.all_passed


class _LoopThread:
    """One asyncio loop on a daemon thread: where a fleet's jobs run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="voxray-fleet")
        self._thread.daemon = True
        self._thread.start()

    def submit(self, work: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


class Job:
    """A submitted suite. Iterate it (sync or async) for records as they finish.

    Each iteration starts from the first record, so several consumers each see every record.
    """

    def __init__(self, job_id: str, suite: Suite, run_dir: Path, total: int) -> None:
        self.id = job_id
        self.suite = suite
        self.run_dir = run_dir
        self.total = total
        self._records: list[ScenarioRecord] = []
        self._finished = False
        self._cond = threading.Condition()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._future: concurrent.futures.Future[JobResult] | None = None
        self._task: asyncio.Task[list[ScenarioRecord]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain = JobDrain()

    @property
    def done(self) -> bool:
        """The job has ended (finished, failed or cancelled)."""
        return self._future is not None and self._future.done()

    @property
    def records(self) -> list[ScenarioRecord]:
        """The records so far, in finishing order."""
        with self._cond:
            return list(self._records)

    def wait(self, timeout: float | None = None) -> JobResult:
        """Block until the job ends; its result.

        Raises:
            TimeoutError: it did not end within ``timeout`` seconds.
        """
        try:
            return self._require_future().result(timeout)
        except concurrent.futures.TimeoutError as error:
            raise TimeoutError(f"job {self.id} still running after {timeout} s") from error

    def __await__(self) -> Any:
        return asyncio.wrap_future(self._require_future()).__await__()

    def cancel(self) -> None:
        """Stop now: queued scenarios are dropped, live sessions are stopped cleanly."""
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)

    def drain(self, deadline_s: float | None = None) -> None:
        """Stop gracefully: nothing new starts, live sessions get ``deadline_s`` to finish."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._drain.request, deadline_s)

    def __iter__(self) -> Iterator[ScenarioRecord]:
        index = 0
        while True:
            with self._cond:
                while index >= len(self._records) and not self._finished:
                    self._cond.wait()
                if index >= len(self._records):
                    break
                record = self._records[index]
                index += 1
            yield record
        self._raise_failure()

    async def __aiter__(self) -> AsyncIterator[ScenarioRecord]:
        loop = asyncio.get_running_loop()
        index = 0
        while True:
            wake = asyncio.Event()
            subscription = (loop, wake)
            with self._cond:
                self._subscribers.add(subscription)
                fresh = self._records[index:]
                finished = self._finished
            try:
                if not fresh and not finished:
                    await wake.wait()
            finally:
                with self._cond:
                    self._subscribers.discard(subscription)
            for record in fresh:
                yield record
            index += len(fresh)
            if finished and not fresh:
                break
        self._raise_failure()

    # --- the fleet's side -------------------------------------------------------------------

    def _add(self, record: ScenarioRecord) -> None:
        with self._cond:
            self._records.append(record)
            self._notify()

    def _finish(self) -> None:
        with self._cond:
            self._finished = True
            self._notify()

    def _notify(self) -> None:
        self._cond.notify_all()
        for loop, wake in list(self._subscribers):
            loop.call_soon_threadsafe(wake.set)

    def _require_future(self) -> concurrent.futures.Future[JobResult]:
        if self._future is None:
            raise RuntimeError("the job was not started")
        return self._future

    def _raise_failure(self) -> None:
        future = self._future
        if future is not None and future.done() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, records={len(self._records)}/{self.total}, done={self.done})"


class Session:
    """A live conversation on a session actor: send audio or text, iterate events, close.

    Sends return once the actor took them (about a millisecond): send 100 ms of audio or more
    per call, not 20 ms frames. Events come as they happen through a Ray streaming generator.
    """

    def __init__(self, fleet: Fleet, lease: SessionLease) -> None:
        self._fleet = fleet
        self._lease = lease
        self._actor = lease.actor
        self._result: SessionResult | None = None

    @property
    def id(self) -> str:
        """The session id."""
        return self._lease.session_id

    @property
    def warm(self) -> bool:
        """Whether it was handed a warm actor."""
        return self._lease.warm

    @property
    def open_ms(self) -> float:
        """Supervisor-side time from the request to ``session.updated``."""
        return self._lease.open_ms

    def send_audio(self, pcm: bytes | NDArray[np.int16], *, rate: int, channels: int = 1) -> None:
        """Caller audio, PCM16 at ``rate`` Hz with ``channels`` interleaved."""
        self._call(self._actor.send_audio.remote(_pcm_bytes(pcm), rate, channels))

    def send_text(self, text: str) -> None:
        """A typed user message; the agent answers by voice."""
        self._call(self._actor.send_text.remote(text))

    def say(self, text: str, *, interruptible: bool = True) -> None:
        """Make the agent say ``text`` verbatim."""
        self._call(self._actor.say.remote(text, interruptible))

    async def asend_audio(
        self, pcm: bytes | NDArray[np.int16], *, rate: int, channels: int = 1
    ) -> None:
        """:meth:`send_audio` for asyncio code."""
        await self._acall(self._actor.send_audio.remote(_pcm_bytes(pcm), rate, channels))

    async def asend_text(self, text: str) -> None:
        """:meth:`send_text` for asyncio code."""
        await self._acall(self._actor.send_text.remote(text))

    def events(self) -> Iterator[ConversationEvent]:
        """Every event from now until the session closes (blocking iteration)."""
        try:
            for ref in self._actor.events.remote():
                event: ConversationEvent = ray.get(ref)
                yield event
        except RayActorError as error:
            raise SessionLostError(f"session {self.id} was lost: {error}") from error

    async def __aiter__(self) -> AsyncIterator[ConversationEvent]:
        try:
            async for ref in self._actor.events.remote():
                event: ConversationEvent = await ref
                yield event
        except RayActorError as error:
            raise SessionLostError(f"session {self.id} was lost: {error}") from error

    def close(self) -> SessionResult:
        """End the session, give its slot back; what it did. Idempotent."""
        if self._result is None:
            self._result = ray.get(
                self._fleet.supervisor.close_session.remote(self._lease.lease_id)
            )
        return self._result

    async def aclose(self) -> SessionResult:
        """:meth:`close` for asyncio code."""
        if self._result is None:
            self._result = await self._fleet.supervisor.close_session.remote(self._lease.lease_id)
        return self._result

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _call(self, ref: Any) -> None:
        try:
            ray.get(ref)
        except RayTaskError as error:
            raise _voxray_cause(error) from error
        except RayActorError as error:
            raise SessionLostError(f"session {self.id} was lost: {error}") from error

    async def _acall(self, ref: Any) -> None:
        try:
            await ref
        except RayTaskError as error:
            raise _voxray_cause(error) from error
        except RayActorError as error:
            raise SessionLostError(f"session {self.id} was lost: {error}") from error

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, actor={self._lease.actor_name!r})"


class Fleet:
    """voxray on a Ray cluster. Create it with :meth:`connect`; use it as a context manager."""

    def __init__(self, settings: VoxraySettings, *, owns_connection: bool) -> None:
        self.settings = settings
        self._owns_connection = owns_connection
        self._loop: _LoopThread | None = None
        self._jobs: list[Job] = []
        self._simulator: Any = None
        self._simulator_url: str | None = None
        self._supervisor: Any = None
        self._closed = False

    @classmethod
    def connect(
        cls,
        address: str | None = None,
        *,
        settings: VoxraySettings | None = None,
        log_to_driver: bool = False,
    ) -> Fleet:
        """Join Ray: ``None`` starts an embedded cluster (or joins ``RAY_ADDRESS``),
        ``"auto"`` finds a ``ray start`` cluster on this machine, ``"host:port"`` is explicit.

        Raises:
            ConfigError: there is no cluster at ``address``.
        """
        settings = settings or VoxraySettings()
        owns = connect_ray(
            address or settings.ray_address,
            namespace=settings.namespace,
            log_to_driver=log_to_driver,
        )
        return cls(settings, owns_connection=owns)

    @property
    def supervisor(self) -> Any:
        """The cluster's supervisor actor (created on first use)."""
        if self._supervisor is None:
            self._supervisor = get_supervisor(self.settings.supervisor, self.settings.namespace)
        return self._supervisor

    # --- jobs -----------------------------------------------------------------------------

    def submit(
        self,
        suite: Suite | str | PathLike[str],
        *,
        out: str | PathLike[str] | None = None,
        filter: str | None = None,
        retries: int | None = None,
    ) -> Job:
        """Start running ``suite`` (a :class:`Suite` or a YAML path); returns at once.

        Args:
            out: run directory; default ``<suite.output_dir>/<name>-<time>``.
            filter: only scenarios whose name matches (glob or substring).
            retries: re-runs of a scenario whose session was lost (default from settings).
        """
        self._require_open()
        loaded = suite if isinstance(suite, Suite) else load_suite(Path(suite))
        specs = select(loaded, filter)
        if not specs:
            raise ConfigError(f"no scenario of suite {loaded.name!r} matches {filter!r}")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        job_id = f"{loaded.name}-{uuid.uuid4().hex[:8]}"
        run_path = Path(out) if out is not None else loaded.output_dir / f"{loaded.name}-{stamp}"
        planned = plan_jobs(loaded, specs, set())
        job = Job(job_id, loaded, run_path, len(planned))
        loop = self._loop_thread()
        job._loop = loop.loop

        async def run() -> JobResult:
            started = time.monotonic()
            run_dir = RunDirectory(run_path)
            work = asyncio.ensure_future(
                run_suite(
                    loaded,
                    planned,
                    self.settings,
                    run_dir,
                    on_record=job._add,
                    job_id=job_id,
                    retries=retries,
                    drain=job._drain,
                    drain_on_sigterm=False,
                )
            )
            job._task = work
            cancelled = False
            try:
                await work
            except asyncio.CancelledError:
                cancelled = True
            finally:
                job._finish()
            records = job.records
            wall_s = time.monotonic() - started
            run_dir.write_summary(records, pass_threshold=loaded.pass_threshold, wall_s=wall_s)
            run_dir.write_junit(loaded.name, records)
            report = write_report(
                run_dir,
                records,
                suite_name=loaded.name,
                backend=loaded.backend,
                pass_threshold=loaded.pass_threshold,
                wall_s=wall_s,
                descriptions={spec.name: spec.description for spec in loaded.scenarios},
            )
            summary = summarize(records, pass_threshold=loaded.pass_threshold, wall_s=wall_s)
            return JobResult(job_id, run_path, records, summary, cancelled, report)

        job._future = loop.submit(run())
        self._jobs.append(job)
        return job

    # --- live sessions --------------------------------------------------------------------

    def open_session(
        self,
        agent: AgentConfig | Mapping[str, Any] | None = None,
        *,
        backend: Literal["sim", "xai"] | None = None,
        sim: BrainScript | None = None,
        record: bool = False,
        timeout_s: float | None = 120.0,
    ) -> Session:
        """Open a live session (returns once the provider confirmed the configuration).

        Args:
            agent: the agent configuration (model, voice, instructions, tools, ...).
            backend: "xai" (needs ``XAI_API_KEY``) or "sim"; default: xai when a key is set.
            sim: the simulator's scripted brain (sim backend only); default echoes.
            record: keep a stereo recording of the session.
            timeout_s: longest wait for a slot and the connection.

        Raises:
            CapacityError: no slot (queue full or draining).
            VoxrayError: the connection failed (e.g. ``AuthenticationError``).
        """
        self._require_open()
        config = (
            agent if isinstance(agent, AgentConfig) else AgentConfig.model_validate(agent or {})
        )
        chosen = backend or ("xai" if self.settings.xai_api_key is not None else "sim")
        endpoint = self.settings.xai_endpoint() if chosen == "xai" else self._sim_endpoint(sim)
        request = LiveSessionRequest(
            session_id=f"live-{uuid.uuid4().hex[:10]}",
            agent=config,
            endpoint=endpoint,
            tuning=self.settings.engine,
            record=record,
        )
        quota = SecretStr(f"sim:{self._simulator_url}") if chosen == "sim" else None
        ticket = SessionTicket(job_id="live", quota=quota)
        try:
            lease: SessionLease = ray.get(
                self.supervisor.open_session.remote(request, ticket), timeout=timeout_s
            )
        except RayTaskError as error:
            raise _voxray_cause(error) from error
        return Session(self, lease)

    # --- the cluster ----------------------------------------------------------------------

    def status(self) -> SupervisorStatus | None:
        """The supervisor's status; None when no supervisor runs yet."""
        supervisor = self._supervisor or find_supervisor(self.settings.namespace)
        if supervisor is None:
            return None
        status: SupervisorStatus = ray.get(supervisor.status.remote())
        return status

    def drain(self, deadline_s: float | None = None) -> DrainReport | None:
        """Drain the cluster's supervisor (every job's sessions) and remove it.

        Returns None when no supervisor runs.
        """
        supervisor = self._supervisor or find_supervisor(self.settings.namespace)
        if supervisor is None:
            return None
        deadline = self.settings.drain_deadline_s if deadline_s is None else deadline_s
        report: DrainReport = ray.get(supervisor.drain.remote(deadline))
        ray.kill(supervisor, no_restart=True)
        self._supervisor = None
        return report

    def close(self) -> None:
        """Cancel unfinished jobs, stop the fleet's simulator, disconnect (if we connected)."""
        if self._closed:
            return
        self._closed = True
        for job in self._jobs:
            if not job.done:
                job.cancel()
        for job in self._jobs:
            # Closing: a job that failed has raised to whoever waited on it already.
            with contextlib.suppress(Exception):
                job.wait(timeout=60)
        if self._loop is not None:
            self._loop.stop()
        if self._simulator is not None:
            with contextlib.suppress(Exception):  # it is killed next anyway
                ray.get(self._simulator.stop.remote(), timeout=10)
            ray.kill(self._simulator)
        if self._owns_connection:
            disconnect_ray()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------

    def _loop_thread(self) -> _LoopThread:
        if self._loop is None:
            self._loop = _LoopThread()
        return self._loop

    def _sim_endpoint(self, script: BrainScript | None) -> ProviderEndpoint:
        if self._simulator is None:
            here = ray.get_runtime_context().get_node_id()
            self._simulator = SimulatorActor.options(
                num_cpus=0, scheduling_strategy=affinity(here)
            ).remote()
            config = SimulatorConfig(host=self.settings.sim_host, speed=self.settings.sim_speed)
            self._simulator_url = ray.get(self._simulator.start.remote(config))
        token: str = ray.get(self._simulator.register.remote(script or BrainScript()))
        return ProviderEndpoint(url=str(self._simulator_url), api_key=SecretStr(token))

    def _require_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Fleet is closed")


def _pcm_bytes(pcm: bytes | NDArray[np.int16]) -> bytes:
    if isinstance(pcm, bytes | bytearray):
        return bytes(pcm)
    return np.ascontiguousarray(pcm, dtype=np.int16).tobytes()


def _voxray_cause(error: RayTaskError) -> Exception:
    cause = error.cause
    if isinstance(cause, VoxrayError):
        return cause
    return VoxrayError(f"{type(cause).__name__ if cause else 'RayTaskError'}: {cause or error}")
