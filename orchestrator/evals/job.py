"""An eval job as the Python API and the CLI run it: planned, run, and its outputs written.

:func:`plan_job` resolves everything a job needs without Ray (the suite and its overrides, the
scenarios selected, the runs a resume skips, the run directory, the cost estimate), so a bad
option is a one-line :class:`~voxray.actors.errors.ConfigError` before anything starts.
:class:`Job` runs a plan on the fleet's event-loop thread and always ends by writing the run's
outputs (``summary.json``, ``junit.xml``, ``report.html``), however it ended: finished,
drained, cancelled, or stopped by a dead supervisor.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any, Final, Literal

from voxray.actors.errors import ConfigError
from voxray.evals.compare import Comparison, RegressionGate, compare_records, load_run
from voxray.evals.compare import write_comparison as write_compare_json
from voxray.evals.compare_view import add_regressions_to_junit, write_compare_page
from voxray.evals.conditions import described
from voxray.evals.cost import CostEstimate, estimate_cost
from voxray.evals.labels import write_label_tracks
from voxray.evals.outputs import RunDirectory, RunSummary, ScenarioRecord, summarize
from voxray.evals.report import write_report
from voxray.evals.runner import JobDrain, PlannedRun, plan_runs, run_suite
from voxray.evals.suite import Suite, load_suite, select, with_conditions, with_overrides
from voxray.evals.tool_modules import ship_tool_modules
from voxray.settings import VoxraySettings

__all__ = ["Job", "JobPlan", "JobResult", "plan_job"]

_WAKE_S: Final = 0.25
"""How often a thread iterating a job wakes (so the main thread runs pending signal handlers)."""


@dataclass(frozen=True)
class JobPlan:
    """Everything a job will do, resolved before it starts."""

    job_id: str
    suite: Suite
    """The suite with the job's overrides (backend, concurrency, repeat) applied."""
    runs: list[PlannedRun]
    """The runs to run now (a resume leaves out those already finished)."""
    scenarios: int
    """Scenarios selected by the filter."""
    run_path: Path
    resume: bool
    already_finished: int
    """Runs a resume found finished in the run directory."""
    settings: VoxraySettings
    retries: int | None
    cost: CostEstimate
    """What the planned runs would cost on xAI (audio minutes and typed messages)."""
    baseline: Path | None = None
    """A run directory to gate against: regressions fail the job (``--baseline``)."""
    baseline_records: tuple[ScenarioRecord, ...] = ()
    gate: RegressionGate = field(default_factory=RegressionGate)

    def check_credentials(self) -> None:
        """Raise ``ConfigError`` now when the xai backend has no key (before Ray starts)."""
        if self.suite.backend == "xai":
            self.settings.xai_endpoint()


def plan_job(
    suite: Suite | str | PathLike[str],
    settings: VoxraySettings,
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
) -> JobPlan:
    """Resolve a job (no Ray needed); see :meth:`voxray.Fleet.submit` for the options.

    Raises:
        ConfigError: the suite or an option is invalid, nothing matches ``filter``, or resume
            without ``out``. (A missing key is :meth:`JobPlan.check_credentials`'s.)
    """
    if speed is not None:
        if not math.isfinite(speed) or speed <= 0:
            raise ConfigError(f"speed must be a finite number > 0, got {speed!r}")
        settings = settings.model_copy(update={"sim_speed": speed})
    loaded = suite if isinstance(suite, Suite) else load_suite(Path(suite))
    loaded = with_overrides(loaded, backend=backend, concurrency=concurrency, repeat=repeat)
    if conditions:
        loaded = with_conditions(loaded, list(conditions))
    # Read now: a baseline that is not a run directory is a one-line error before Ray starts.
    baseline_records = tuple(load_run(Path(baseline))) if baseline is not None else ()
    specs = select(loaded, filter)
    if not specs:
        raise ConfigError(f"no scenario of suite {loaded.name!r} matches the filter {filter!r}")
    if out is not None:
        run_path = Path(out)
    elif resume:
        raise ConfigError("--resume needs --out <run directory> to resume (out= in Python)")
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_path = loaded.output_dir / f"{loaded.name}-{stamp}"
    done = RunDirectory.finished_keys_in(run_path) if resume else set()
    runs = plan_runs(loaded, specs, done)
    return JobPlan(
        job_id=f"{loaded.name}-{uuid.uuid4().hex[:8]}",
        suite=loaded,
        runs=runs,
        scenarios=len(specs),
        run_path=run_path,
        resume=resume,
        already_finished=len(done),
        settings=settings,
        retries=retries,
        cost=estimate_cost([run.spec for run in runs], 1),
        baseline=Path(baseline) if baseline is not None else None,
        baseline_records=baseline_records,
        gate=gate or RegressionGate(),
    )


@dataclass(frozen=True)
class JobResult:
    """How a job ended: its records (in finishing order) and the run's summary.

    After a resume, ``records`` are this job's and ``summary`` covers the whole run directory.
    """

    job_id: str
    run_dir: Path
    records: list[ScenarioRecord]
    summary: RunSummary
    cancelled: bool
    report: Path
    """``report.html`` (beside ``results.jsonl``, ``summary.json`` and ``junit.xml``)."""
    all_records: list[ScenarioRecord]
    """Every record the summary covers (with a resume: earlier jobs' too)."""
    comparison: Comparison | None = None
    """Against the plan's baseline, when it has one (also in ``compare.json``)."""

    @property
    def passed(self) -> bool:
        """Every scenario reached the suite's pass threshold, every run finished, something
        ran, and nothing regressed against the baseline."""
        regressed = self.comparison is not None and bool(self.comparison.regressions)
        return bool(self.all_records) and self.summary.all_passed and not regressed

    @property
    def unfinished(self) -> int:
        """Runs that did not finish (not run, interrupted, lost): ``resume`` runs them."""
        return self.summary.runs_unfinished


class Job:
    """A submitted suite. Iterate it (sync or async) for records as they end.

    Each iteration starts from the first record, so several consumers each see every record.
    Create one with :meth:`voxray.Fleet.submit`.
    """

    def __init__(self, plan: JobPlan, loop: asyncio.AbstractEventLoop) -> None:
        self.plan = plan
        self.id = plan.job_id
        self.suite = plan.suite
        self.run_dir = plan.run_path
        self.total = len(plan.runs)
        self._loop = loop
        self._records: list[ScenarioRecord] = []
        self._finished = False
        self._cond = threading.Condition()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._future: concurrent.futures.Future[JobResult] | None = None
        self._task: asyncio.Task[list[ScenarioRecord]] | None = None
        self._drain = JobDrain()
        self._lock = contextlib.ExitStack()

    def start(self) -> None:
        """Take the run directory and start running (once; :meth:`Fleet.submit` does it).

        Raises:
            RunDirectoryBusyError: another voxray run writes the same directory.
        """
        if self._future is not None:
            raise RuntimeError(f"job {self.id} was started already")
        run_dir = RunDirectory(self.plan.run_path)
        self._lock.enter_context(run_dir.lock())
        self._future = asyncio.run_coroutine_threadsafe(self._run(run_dir), self._loop)

    @property
    def done(self) -> bool:
        """The job has ended (finished, failed or cancelled)."""
        return self._future is not None and self._future.done()

    @property
    def records(self) -> list[ScenarioRecord]:
        """The records so far, in the order the runs ended."""
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
        """Stop now: live sessions are stopped cleanly, open runs recorded as unfinished,
        and the outputs written."""
        self._loop.call_soon_threadsafe(self._cancel_on_loop)

    def drain(self, deadline_s: float | None = None) -> None:
        """Stop gracefully: nothing new starts, live sessions get ``deadline_s`` to finish."""
        self._loop.call_soon_threadsafe(self._drain.request, deadline_s)

    def __iter__(self) -> Iterator[ScenarioRecord]:
        index = 0
        while True:
            with self._cond:
                while index >= len(self._records) and not self._finished:
                    # Woken now and then: Python runs signal handlers only in the main thread,
                    # and a SIGTERM or Ctrl-C the kernel hands to another thread (Ray's, the
                    # job's loop) does not interrupt this wait, so without a timeout the drain
                    # would wait for the next run to end.
                    self._cond.wait(_WAKE_S)
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

    # --- on the fleet's loop ------------------------------------------------------------------

    def _cancel_on_loop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        else:  # not started yet: nothing starts
            self._drain.request(0.0)

    async def _run(self, run_dir: RunDirectory) -> JobResult:
        plan = self.plan
        started = time.monotonic()
        cancelled = False
        try:
            # Tool modules from the suite's folder reach the runners (on any node) as uploads.
            runs = await asyncio.to_thread(ship_tool_modules, plan.runs)
            self._task = asyncio.ensure_future(
                run_suite(
                    plan.suite,
                    runs,
                    plan.settings,
                    run_dir,
                    on_record=self._add,
                    job_id=plan.job_id,
                    retries=plan.retries,
                    drain=self._drain,
                )
            )
            try:
                await self._task
            except asyncio.CancelledError:
                cancelled = True
            # Whatever ended the job, its outputs are written (a failure re-raises after).
            return self._write_outputs(run_dir, time.monotonic() - started, cancelled)
        except BaseException:
            with contextlib.suppress(Exception):
                self._write_outputs(run_dir, time.monotonic() - started, cancelled)
            raise
        finally:
            self._finish()
            self._lock.close()

    def _write_outputs(self, run_dir: RunDirectory, wall_s: float, cancelled: bool) -> JobResult:
        plan = self.plan
        records = self.records
        every = run_dir.load_records() if plan.resume else records
        threshold = plan.suite.pass_threshold
        planned_usd = plan.cost.usd
        run_dir.write_summary(
            every, pass_threshold=threshold, wall_s=wall_s, planned_cost_usd=planned_usd
        )
        junit = run_dir.write_junit(plan.suite.name, every)
        write_label_tracks(run_dir.path, every)
        comparison = None
        if plan.baseline is not None:
            comparison = compare_records(
                plan.baseline_records,
                every,
                run_a=str(plan.baseline),
                run_b=str(run_dir.path),
                alpha=plan.gate.alpha,
                latency_tolerance=plan.gate.latency_tolerance,
                latency_floor_ms=plan.gate.latency_floor_ms,
            )
            write_compare_json(comparison, run_dir.path)
            write_compare_page(comparison, run_dir.path)
            add_regressions_to_junit(junit, comparison)
        report = write_report(
            run_dir,
            every,
            suite_name=plan.suite.name,
            backend=plan.suite.backend,
            pass_threshold=threshold,
            wall_s=wall_s,
            planned_cost_usd=planned_usd,
            descriptions={
                spec.name: described(spec.description, spec.condition)
                for spec in plan.suite.scenarios
            },
            embed_audio=plan.suite.report.embed_audio,
        )
        summary = summarize(
            every, pass_threshold=threshold, wall_s=wall_s, planned_cost_usd=planned_usd
        )
        return JobResult(
            plan.job_id,
            plan.run_path,
            records,
            summary,
            cancelled,
            report,
            list(every),
            comparison,
        )

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
