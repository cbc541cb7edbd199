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
import contextlib
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from pydantic import SecretStr
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.conversation.live import LiveSessionRequest
from voxray.actors.errors import ActorLostError, ConfigError
from voxray.actors.gateway.actor import GatewayDrain, GatewayStatus
from voxray.actors.gateway.settings import GatewaySettings
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.supervision.models import (
    DrainReport,
    SessionTicket,
    SupervisorStatus,
)
from voxray.cluster import connect_ray, disconnect_ray
from voxray.evals.compare import RegressionGate
from voxray.evals.job import Job, JobPlan, JobResult, plan_job
from voxray.evals.suite import Suite
from voxray.handles.session import Session
from voxray.handles.simulator import SimulatorClient
from voxray.handles.supervisor import SupervisorClient
from voxray.serve.agents import AgentFile, load_agent_file
from voxray.serve.deploy import (
    Deployment,
    deploy,
    drain_gateways,
    find_gateways,
    gateway_statuses,
)
from voxray.settings import VoxraySettings

__all__ = ["Fleet", "Job", "JobPlan", "JobResult", "Session"]


class _LoopThread:
    """One asyncio loop on a daemon thread: where a fleet's jobs run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="voxray-fleet")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


class Fleet:
    """voxray on a Ray cluster. Create it with :meth:`connect`; use it as a context manager."""

    def __init__(self, settings: VoxraySettings, *, owns_connection: bool) -> None:
        self.settings = settings
        self._owns_connection = owns_connection
        self._loop: _LoopThread | None = None
        self._jobs: list[Job] = []
        self._simulator: SimulatorClient | None = None
        self._supervisor: SupervisorClient | None = None
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
    def supervisor(self) -> SupervisorClient:
        """The client of the cluster's supervisor actor, created if none runs (a drained or
        dead one is replaced when a call finds it gone)."""
        if self._supervisor is None:
            self._supervisor = SupervisorClient.ensure(
                self.settings.supervisor, self.settings.namespace
            )
        return self._supervisor

    # --- jobs -----------------------------------------------------------------------------

    def submit(
        self,
        suite: Suite | str | PathLike[str] | JobPlan,
        *,
        out: str | PathLike[str] | None = None,
        filter: str | None = None,
        backend: Literal["sim", "xai"] | None = None,
        concurrency: int | None = None,
        repeat: int | None = None,
        resume: bool = False,
        speed: float | None = None,
        retries: int | None = None,
        conditions: Sequence[str] | None = None,
        baseline: str | PathLike[str] | None = None,
        gate: RegressionGate | None = None,
    ) -> Job:
        """Start running ``suite`` (a :class:`Suite`, a YAML path, or a :class:`JobPlan` from
        :func:`~voxray.evals.job.plan_job`); returns at once. The job writes ``results.jsonl``
        as runs end and, however it ends, ``summary.json``, ``junit.xml`` and ``report.html``.

        Args:
            out: run directory; default ``<suite.output_dir>/<name>-<time>``.
            filter: only scenarios whose name matches (glob or substring, comma-separated).
            backend: "sim" or "xai" instead of the suite's.
            concurrency: scenarios run at once instead of the suite's.
            repeat: runs of each scenario instead of the suite's.
            resume: skip the runs ``out`` holds as finished; rerun the rest (needs ``out``).
            speed: simulator pacing (1 = real time) instead of the settings'.
            retries: re-runs of a scenario whose session was lost (default from settings).
            conditions: run every scenario under each of these caller conditions (presets
                such as "clean", "phone", "noisy-cafe", or the suite's own): the ablation
                matrix, instead of the suite's ``matrix``.
            baseline: a run directory to compare with: the job writes ``compare.json`` and
                ``compare.html``, JUnit lists the regressions, and the result does not pass
                when a scenario regressed (see :mod:`voxray.evals.compare`).
            gate: what counts as a regression against ``baseline`` (default thresholds).

        Raises:
            ConfigError: the suite or an option is invalid, or the xai backend has no key
                (a one-line reason).
            RunDirectoryBusyError: another voxray run writes ``out``.
        """
        self._require_open()
        if isinstance(suite, JobPlan):
            plan = suite
            if plan.settings.namespace != self.settings.namespace:
                raise ConfigError(
                    f"the plan is for namespace {plan.settings.namespace!r}, "
                    f"this fleet's is {self.settings.namespace!r}"
                )
        else:
            plan = plan_job(
                suite,
                self.settings,
                out=out,
                filter=filter,
                backend=backend,
                concurrency=concurrency,
                repeat=repeat,
                resume=resume,
                speed=speed,
                retries=retries,
                conditions=conditions,
                baseline=baseline,
                gate=gate,
            )
        plan.check_credentials()
        job = Job(plan, self._loop_thread().loop)
        job.start()
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
        cassette: str | PathLike[str] | None = None,
    ) -> Session:
        """Open a live session (returns once the provider confirmed the configuration).

        Args:
            agent: the agent configuration (model, voice, instructions, tools, ...).
            backend: "xai" (needs ``XAI_API_KEY``) or "sim"; default: xai when a key is set.
            sim: the simulator's scripted brain (sim backend only); default echoes.
            record: keep a stereo recording of the session.
            timeout_s: longest wait for a slot and the connection.
            cassette: record every frame into a cassette in this folder, written (scrubbed of
                the key) by the session's actor when it closes: a recorded live call can
                become a replayed regression scenario (README: Record and replay).

        Raises:
            CapacityError: no slot (queue full or draining).
            VoxrayError: the connection failed (e.g. ``AuthenticationError``).
        """
        self._require_open()
        config = (
            agent if isinstance(agent, AgentConfig) else AgentConfig.model_validate(agent or {})
        )
        chosen = backend or ("xai" if self.settings.xai_api_key is not None else "sim")
        quota: SecretStr | None = None
        if chosen == "xai":
            endpoint = self.settings.xai_endpoint()
        else:
            endpoint = self._live_endpoint(sim)
            quota = SecretStr(f"sim:{endpoint.url}")
        request = LiveSessionRequest(
            session_id=f"live-{uuid.uuid4().hex[:10]}",
            agent=config,
            endpoint=endpoint,
            tuning=self.settings.engine,
            record=record,
            cassette_dir=str(Path(cassette).resolve()) if cassette is not None else None,
        )
        ticket = SessionTicket(job_id="live", quota=quota)
        supervisor = self.supervisor
        try:
            lease = supervisor.open_session(request, ticket, timeout_s=timeout_s)
        except ActorLostError:  # drained or died since: nothing was opened; ask a new one
            self._supervisor = None
            supervisor = self.supervisor
            lease = supervisor.open_session(request, ticket, timeout_s=timeout_s)
        return Session(supervisor, lease)

    # --- the cluster ----------------------------------------------------------------------

    def status(self) -> SupervisorStatus | None:
        """The supervisor's status; None when no supervisor runs yet."""
        supervisor = SupervisorClient.find(self.settings.namespace)
        return None if supervisor is None else supervisor.status()

    def drain(self, deadline_s: float | None = None) -> DrainReport | None:
        """Drain the cluster's supervisor (every job's sessions) and remove it.

        Returns None when no supervisor runs.

        Raises:
            ConfigError: ``deadline_s`` is negative.
        """
        deadline = self.settings.drain_deadline_s if deadline_s is None else deadline_s
        if deadline < 0:
            raise ConfigError(f"the drain deadline must be >= 0 s, got {deadline:g}")
        supervisor = SupervisorClient.find(self.settings.namespace)
        return None if supervisor is None else supervisor.drain(deadline)

    # --- live agents for callers (voxray serve) -------------------------------------------

    def serve(
        self, agents: AgentFile | str | PathLike[str], gateway: GatewaySettings
    ) -> Deployment:
        """Deploy a gateway on every node serving ``agents`` (an agent file or its path).

        The gateways are detached: they keep serving after this fleet closes, until
        :meth:`drain_gateways`.

        Raises:
            ConfigError: an invalid agent file, gateways already running, or ``backend: xai``
                without a key.
        """
        self._require_open()
        loaded = agents if isinstance(agents, AgentFile) else load_agent_file(Path(agents))
        running = find_gateways(self.settings.namespace)
        if running:
            raise ConfigError(
                f"{len(running)} gateway(s) already run in namespace "
                f"{self.settings.namespace!r}: `voxray drain` them first"
            )
        return deploy(loaded, self.settings, gateway)

    def gateways(self) -> list[GatewayStatus]:
        """The running gateways: where they listen, calls now, total, refused."""
        return gateway_statuses(find_gateways(self.settings.namespace))

    def drain_gateways(
        self, deadline_s: float | None = None, *, end_now: Callable[[], bool] | None = None
    ) -> list[GatewayDrain]:
        """Drain every gateway (new callers refused, live calls run to ``deadline_s``, default
        each gateway's own, then end cleanly) and remove them. Empty when none runs.

        ``end_now``, polled meanwhile, ends the live calls at once when it returns True.
        """
        gateways = find_gateways(self.settings.namespace)
        if not gateways:
            return []
        return drain_gateways(gateways, self.settings.namespace, deadline_s, end_now=end_now)

    def close(self) -> None:
        """Cancel unfinished jobs (their outputs are written), stop the fleet's simulator,
        disconnect (if we connected)."""
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
            self._simulator.stop()
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

    def _live_endpoint(self, script: BrainScript | None) -> ProviderEndpoint:
        """An endpoint of the simulator this fleet's live sessions talk to: started on first
        use, and started again if it died since (the sessions it served are lost with it)."""
        for attempt in range(2):
            if self._simulator is None:
                config = SimulatorConfig(host=self.settings.sim_host, speed=self.settings.sim_speed)
                self._simulator = SimulatorClient.start(
                    config,
                    name=f"voxray-sim-live-{uuid.uuid4().hex[:8]}",
                    namespace=self.settings.namespace,
                )
            try:
                return self._simulator.endpoint(script)
            except ActorLostError:
                if attempt:
                    raise
                self._simulator.kill()
                self._simulator = None
        raise AssertionError("unreachable")  # pragma: no cover

    def _require_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Fleet is closed")
