"""The tool-runner pool: function calls run in their own Ray actor processes.

A conversation never hangs or dies because of a tool: each call runs in a runner actor, bounded by
its spec's timeout. A call that runs past it is cancelled and its runner killed (a hung sync
function can only be stopped with its process) and replaced; a runner that dies (a tool called
``os._exit``, the OOM killer) is replaced; either way the model receives an error output.

:class:`ToolPool` is a small picklable client: the driver starts it once and passes it to every
session actor. Copies share the runners through a private keeper actor, the single owner of
replacements. Without it, each copy would start its own replacement for the same dead runner
(N sessions, N new processes), and a replacement owned by a session actor would die with that
session.

Runners are created with ``max_restarts=0, max_task_retries=0``: Ray would otherwise re-run an
in-flight call on a restarted actor, and tool calls have side effects.

Known limits of this first cut: runners are picked by the local count of calls in flight, so
copies do not see each other's load; killing a runner on timeout also fails the other calls it
was running at that moment (they get ``runner_died``); a copy learns of a replacement made by
another copy when its next call on the old runner fails with ``runner_died``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Final, TypeVar

import ray
from ray.exceptions import RayActorError, RayError, RayTaskError

from actors.tools.outcome import RunnerReply, ToolErrorType, ToolOutcome
from actors.tools.runner import DEFAULT_MAX_OUTPUT_BYTES, ToolRunner, decode_arguments
from actors.tools.spec import ToolSpec

__all__ = ["DEFAULT_RUNNER_CONCURRENCY", "ToolPool"]

DEFAULT_RUNNER_CONCURRENCY: Final = 32
"""Calls one runner accepts at once (sync tools also share its default thread pool)."""

_SHUTDOWN_TIMEOUT_S: Final = 10.0
_READY_RETRY_S: Final = 0.2

_log = logging.getLogger(__name__)
_F = TypeVar("_F", bound=Callable[..., Any])


def _ray_method(**options: Any) -> Callable[[_F], _F]:
    # ray is untyped for mypy; this keeps the decorated methods' signatures.
    decorator: Callable[[_F], _F] = ray.method(**options)
    return decorator


class _RunnerProcess(ToolRunner):
    """The body of a runner actor: a ToolRunner with Ray method options."""

    # Task events grow the GCS with every call; tool calls are frequent and individually dull.
    @_ray_method(enable_task_events=False)
    async def invoke(self, ref: str, arguments: dict[str, Any]) -> RunnerReply:
        return await super().invoke(ref, arguments)

    # Its own concurrency group (own event loop): a ping answers even when every slot of the
    # default group is busy.
    @_ray_method(concurrency_group="health")
    async def ping(self) -> str:
        return await super().ping()


_RunnerActor = ray.remote(
    num_cpus=0,  # runners mostly wait; they must not block the scheduling of sessions
    max_restarts=0,
    max_task_retries=0,
    concurrency_groups={"health": 1},
)(_RunnerProcess)


def _start_runner(name: str, namespace: str | None, options: dict[str, Any]) -> Any:
    return _RunnerActor.options(
        name=name, namespace=namespace, max_concurrency=options["max_concurrency"]
    ).remote(max_output_bytes=options["max_output_bytes"])


class _RunnerKeeper:
    """Owns replacement runners and says which generation of each slot is current.

    A sync actor with one thread, so replacements are serialised: the first copy to report a
    dead generation causes one replacement, later reports of the same generation get it.
    """

    def __init__(
        self,
        pool_id: str,
        namespace: str | None,
        runners: list[Any],
        options: dict[str, Any],
    ) -> None:
        self._pool_id = pool_id
        self._namespace = namespace
        self._options = options
        self._slots: list[tuple[int, Any]] = [(0, runner) for runner in runners]

    def replace(self, slot: int, generation: int) -> tuple[int, Any]:
        current_generation, runner = self._slots[slot]
        if current_generation != generation:
            return self._slots[slot]
        with contextlib.suppress(Exception):
            ray.kill(runner, no_restart=True)
        new_generation = generation + 1
        name = f"voxray-tool-runner-{self._pool_id}-{slot}.{new_generation}"
        self._slots[slot] = (new_generation, _start_runner(name, self._namespace, self._options))
        return self._slots[slot]

    def shutdown(self) -> None:
        for _, runner in self._slots:
            with contextlib.suppress(Exception):
                ray.kill(runner, no_restart=True)


_KeeperActor = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=1)(_RunnerKeeper)


class ToolPool:
    """Client of a pool of tool-runner actors; implements :class:`~actors.tools.ToolBackend`.

    Create it with :meth:`start` in the driver (Ray initialised); pass it to session actors,
    where :meth:`call` runs function calls. It pickles with its actor handles; each copy keeps
    its own view of which runner is current. Call :meth:`shutdown` from the driver at the end.
    """

    def __init__(self, pool_id: str, keeper: Any, runners: list[tuple[int, Any]]) -> None:
        self._pool_id = pool_id
        self._keeper = keeper
        self._runners = list(runners)
        self._in_flight: list[int] = []
        self._next_slot: int = 0
        self._reset_local_state()

    @classmethod
    def start(
        cls,
        size: int = 2,
        *,
        namespace: str | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        max_concurrency: int = DEFAULT_RUNNER_CONCURRENCY,
    ) -> ToolPool:
        """Start ``size`` runner actors (``num_cpus=0``, one process each) and their keeper.

        Returns at once; runners finish starting in the background (see :meth:`wait_ready`).

        Args:
            size: number of runner processes.
            namespace: Ray namespace of the pool's named actors; the job's by default.
            max_output_bytes: outputs longer than this are truncated with a note.
            max_concurrency: calls one runner accepts at once.
        """
        if size < 1:
            raise ValueError("a tool pool needs at least one runner")
        pool_id = uuid.uuid4().hex[:8]
        options = {"max_output_bytes": max_output_bytes, "max_concurrency": max_concurrency}
        runners = [
            _start_runner(f"voxray-tool-runner-{pool_id}-{slot}.0", namespace, options)
            for slot in range(size)
        ]
        keeper = _KeeperActor.options(
            name=f"voxray-tool-pool-{pool_id}", namespace=namespace
        ).remote(pool_id, namespace, runners, options)
        return cls(pool_id, keeper, [(0, runner) for runner in runners])

    @property
    def size(self) -> int:
        """Number of runner slots."""
        return len(self._runners)

    @property
    def generations(self) -> tuple[int, ...]:
        """Per slot, how many times its runner has been replaced, as far as this copy knows."""
        return tuple(generation for generation, _ in self._runners)

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until every runner answers a ping, replacing any that died meanwhile.

        Raises:
            TimeoutError: not every runner answered within ``timeout_s``.
        """
        async with asyncio.timeout(timeout_s):
            for slot in range(self.size):
                while True:
                    generation, runner = self._runners[slot]
                    try:
                        await runner.ping.remote()
                        break
                    except RayActorError:
                        await self._replace(slot, generation, runner)
                        await asyncio.sleep(_READY_RETRY_S)

    async def call(self, spec: ToolSpec, call_id: str, arguments_json: str) -> ToolOutcome:
        """Run one function call in a runner and return its outcome.

        Never raises for the tool's problems: malformed arguments, an exception, a timeout, a
        dead runner each become an error outcome. If the awaiting task is cancelled (the session
        was interrupted or closed), the Ray task is cancelled and CancelledError propagates.
        """
        started = time.perf_counter()

        def failure(error_type: ToolErrorType, message: str) -> ToolOutcome:
            latency_ms = (time.perf_counter() - started) * 1000
            return ToolOutcome.failure(
                error_type, message, call_id=call_id, name=spec.name, latency_ms=latency_ms
            )

        try:
            arguments = decode_arguments(arguments_json)
        except ValueError as error:
            return failure("invalid_arguments", str(error))
        slot = self._pick_slot()
        generation, runner = self._runners[slot]
        self._in_flight[slot] += 1
        try:
            ref = runner.invoke.remote(spec.ref, arguments)
            try:
                reply: RunnerReply = await asyncio.wait_for(ref, timeout=spec.timeout_s)
            except TimeoutError:
                # Cancelling stops an async tool; a sync one is stuck in its thread, and only
                # killing the process stops it. The kill is what the replacement does.
                ray.cancel(ref)
                await self._replace(slot, generation, runner)
                return failure(
                    "timeout", f"the function did not finish within {spec.timeout_s:g} s"
                )
            except asyncio.CancelledError:
                ray.cancel(ref)
                raise
        except RayActorError as error:
            _log.warning("tool runner died during %s (%s): %s", spec.name, call_id, error)
            await self._replace(slot, generation, runner)
            return failure(
                "runner_died", "the process running the function died before it returned"
            )
        except RayTaskError as error:
            # The runner catches the tool's exceptions; reaching here is a fault of the runner
            # itself. Its text holds a traceback, so only the cause's type is shown.
            _log.error("tool runner failed during %s (%s): %s", spec.name, call_id, error)
            return failure("exception", f"tool runner error: {type(error.cause).__name__}")
        except RayError as error:
            _log.error("Ray failed during %s (%s): %s", spec.name, call_id, error)
            return failure("exception", f"tool runner error: {type(error).__name__}")
        finally:
            self._in_flight[slot] -= 1
        latency_ms = (time.perf_counter() - started) * 1000
        return ToolOutcome.from_reply(reply, call_id=call_id, name=spec.name, latency_ms=latency_ms)

    def shutdown(self) -> None:
        """Kill every runner and the keeper. Call it once, from the driver; idempotent."""
        with contextlib.suppress(RayError):
            ray.get(self._keeper.shutdown.remote(), timeout=_SHUTDOWN_TIMEOUT_S)
        for _, runner in self._runners:
            with contextlib.suppress(Exception):
                ray.kill(runner, no_restart=True)
        with contextlib.suppress(Exception):
            ray.kill(self._keeper, no_restart=True)

    def _pick_slot(self) -> int:
        # Fewest local calls in flight, ties broken round-robin so idle runners share the work.
        size = len(self._runners)
        start = self._next_slot
        self._next_slot = (start + 1) % size
        order = [(start + offset) % size for offset in range(size)]
        return min(order, key=lambda slot: self._in_flight[slot])

    async def _replace(self, slot: int, generation: int, runner: Any) -> None:
        with contextlib.suppress(Exception):
            ray.kill(runner, no_restart=True)
        try:
            new_generation, new_runner = await self._keeper.replace.remote(slot, generation)
        except RayError as error:
            # The keeper is gone: the pool was shut down. Calls on this slot will keep failing
            # with runner_died, which is the truth.
            _log.warning("tool pool %s cannot replace runner %d: %s", self._pool_id, slot, error)
            return
        if new_generation > self._runners[slot][0]:
            self._runners[slot] = (new_generation, new_runner)

    def _reset_local_state(self) -> None:
        self._in_flight = [0] * len(self._runners)
        self._next_slot = 0

    def __getstate__(self) -> dict[str, Any]:
        # Load counters describe this copy's calls; a new copy starts with none in flight.
        return {"pool_id": self._pool_id, "keeper": self._keeper, "runners": self._runners}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._pool_id = state["pool_id"]
        self._keeper = state["keeper"]
        self._runners = list(state["runners"])
        self._reset_local_state()

    def __repr__(self) -> str:
        return f"ToolPool(id={self._pool_id!r}, size={self.size})"
