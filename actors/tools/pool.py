"""The tool-runner pool: function calls run in their own Ray actor processes.

A conversation never hangs or dies because of a tool. :class:`ToolPool` is a small picklable
client: the driver starts it once and passes it to every session actor; each copy calls the
runners directly, one Ray round trip per call, and asks the pool's keeper
(:mod:`voxray.actors.tools.keeper`) only when it needs something slow: a runner with room when all
it
knows are busy, or a verdict on a call whose runner died.

What each kind of trouble becomes, for the model (an error output) and for the pool:

=============================  ===================  =========================================
trouble                        ``error.type``        the pool
=============================  ===================  =========================================
the function raises            ``exception``        nothing: the runner carries on
sync function past timeout     ``timeout``          its runner (running only that call) is
                                                    killed and replaced
async function past timeout    ``timeout``          the coroutine is cancelled; if it ignores
                                                    that, its runner is drained and replaced
caller cancelled (barge-in,    (CancelledError)     the Ray task is cancelled; a sync
session closed)                                     function's runner is killed and replaced
``os._exit``, segfault, OOM    ``runner_died``      the runner is replaced
runner silent past timeout     ``timeout``          the runner is killed and replaced
every runner busy, queue full  ``capacity``         nothing; the numbers are in the output
=============================  ===================  =========================================

Where the work goes: a sync tool's call has a runner to itself (killing a process to stop a
hung thread must not take other calls with it); async tools share runners up to
``max_async_calls_per_runner``. Tools with a ``runtime_env`` get runners of their own, one group
per distinct runtime_env.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Final, cast

import ray
from ray.exceptions import RayActorError, RayError, RayTaskError
from voxray.actors.tools.keeper import DEFAULT_GROUP, KeeperActor
from voxray.actors.tools.metrics import PoolStatistics
from voxray.actors.tools.outcome import ToolErrorType, ToolOutcome
from voxray.actors.tools.protocol import (
    BUSY,
    DONE,
    VERDICT_NOT_STARTED,
    VERDICT_TIMEOUT,
    CallReply,
    CallRequest,
    CapacityRefused,
    Granted,
    LostReport,
    SlotView,
    View,
)
from voxray.actors.tools.settings import DEFAULT_MAX_OUTPUT_BYTES, ToolPoolSettings
from voxray.actors.tools.spec import ToolSpec

__all__ = ["DEFAULT_RUNNER_CONCURRENCY", "ToolPool"]

DEFAULT_RUNNER_CONCURRENCY: Final = ToolPoolSettings().max_async_calls_per_runner
"""Calls of async tools one runner runs at once, unless the settings say otherwise."""

_SHUTDOWN_TIMEOUT_S: Final = 10.0
_FAST_TRIES: Final = 2  # runners tried directly before asking the keeper
_MAX_ATTEMPTS: Final = 8  # routes tried in all (busy, retiring, not started elsewhere)
_BUSY_HINT_S: Final = 0.05  # how long a runner that said BUSY is passed over
_REPLY_MARGIN_S: Final = 1.0  # Ray's own latency, on top of the runner's deadline

_log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Route:
    """This copy's knowledge of one runner: who it is and how many of our calls it has."""

    slot: int
    generation: int
    handle: Any
    in_flight: int = 0
    exclusive: bool = False
    skip_until: float = 0.0


@dataclass(frozen=True)
class _Refusal:
    error_type: ToolErrorType
    message: str
    details: dict[str, int] = field(default_factory=dict)


class ToolPool:
    """Client of a pool of tool-runner actors; implements :class:`~voxray.actors.tools.ToolBackend`.

    Create it with :meth:`from_settings` (or :meth:`start`) in the driver, Ray initialised;
    pass it to session actors, where :meth:`call` runs function calls. It pickles with its actor
    handles; each copy keeps its own view of the runners and learns of changes from their
    replies. Call :meth:`shutdown` (or :meth:`aclose`) once, from the driver, at the end.
    """

    def __init__(
        self, pool_id: str, keeper: Any, settings: ToolPoolSettings, view: View | None = None
    ) -> None:
        self._pool_id = pool_id
        self._keeper = keeper
        self._settings = settings
        self._setup(view)

    def _setup(self, view: View | None) -> None:
        self._client = uuid.uuid4().hex[:8]
        self._calls = itertools.count()
        self._version = -1
        self._routes: dict[str, list[_Route]] = {}
        self._rotation = 0
        if view is not None:
            self._apply_view(view)

    @classmethod
    def from_settings(cls, settings: ToolPoolSettings, *, namespace: str | None = None) -> ToolPool:
        """Start a pool: its keeper, which starts ``settings.size`` runners in the background.

        Returns at once; see :meth:`wait_ready`.

        Args:
            settings: sizes, bounds and timeouts.
            namespace: Ray namespace of the pool's named actors; the job's by default.
        """
        pool_id = uuid.uuid4().hex[:8]
        keeper = KeeperActor.options(
            name=f"voxray-tool-pool-{pool_id}", namespace=namespace
        ).remote(pool_id, namespace, settings)
        keeper.start.remote()
        return cls(pool_id, keeper, settings)

    @classmethod
    def start(
        cls,
        size: int = 2,
        *,
        namespace: str | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        max_concurrency: int = DEFAULT_RUNNER_CONCURRENCY,
    ) -> ToolPool:
        """Start a pool of ``size`` runners, other settings at their defaults.

        Kept for existing callers; :meth:`from_settings` exposes every knob.

        Args:
            size: runners started with the pool (it may grow to ``max(size, 8)``).
            namespace: Ray namespace of the pool's named actors; the job's by default.
            max_output_bytes: outputs longer than this are truncated with a note.
            max_concurrency: calls of async tools one runner runs at once.
        """
        if size < 1:
            raise ValueError("a tool pool needs at least one runner")
        settings = ToolPoolSettings(
            size=size,
            max_size=max(size, ToolPoolSettings().max_size),
            max_output_bytes=max_output_bytes,
            max_async_calls_per_runner=max_concurrency,
        )
        return cls.from_settings(settings, namespace=namespace)

    @property
    def pool_id(self) -> str:
        """The pool's id: its keeper and runners are the named actors ``voxray-tool-*-<id>*``."""
        return self._pool_id

    @property
    def settings(self) -> ToolPoolSettings:
        """The pool's settings."""
        return self._settings

    @property
    def size(self) -> int:
        """Runners of the pool's own group (no runtime_env) this copy knows of."""
        return len(self._routes.get(DEFAULT_GROUP, ()))

    @property
    def generations(self) -> tuple[int, ...]:
        """Per runner this copy knows of (default group, by slot), how often it was replaced."""
        return tuple(route.generation for route in self._routes.get(DEFAULT_GROUP, ()))

    @property
    def runner_names(self) -> tuple[str, ...]:
        """The Ray actor names of the ready runners this copy knows of (every group)."""
        return tuple(
            f"voxray-tool-runner-{self._pool_id}-{route.slot}.{route.generation}"
            for routes in self._routes.values()
            for route in routes
        )

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until the pool's ``size`` runners answer.

        Raises:
            TimeoutError: they did not within ``timeout_s``.
        """
        ref = self._keeper.wait_ready.remote(timeout_s)
        try:
            async with asyncio.timeout(timeout_s + _REPLY_MARGIN_S):
                view: View = await ref
        except RayTaskError as error:
            if isinstance(error.cause, TimeoutError):
                raise TimeoutError(f"tool runners not ready within {timeout_s:g} s") from None
            raise
        self._apply_view(view)

    async def statistics(self) -> PoolStatistics:
        """The pool's figures (every session's calls), for ``voxray status``."""
        statistics: PoolStatistics = await self._keeper.statistics.remote()
        return statistics

    async def probe_ms(self) -> float:
        """Round trip of an empty call to one of the pool's runners, in ms: the floor Ray sets
        under every tool call (``voxray bench tools`` reports it beside the pool's overhead).

        Raises:
            RuntimeError: this copy knows of no ready runner (call :meth:`wait_ready` first).
        """
        routes = self._routes.get(DEFAULT_GROUP)
        if not routes:
            raise RuntimeError("no ready runner known; call wait_ready() first")
        started = time.perf_counter()
        await routes[0].handle.set_view.remote(View(-1, ()))  # older than any view: a no-op
        return (time.perf_counter() - started) * 1000

    async def call(self, spec: ToolSpec, call_id: str, arguments_json: str) -> ToolOutcome:
        """Run one function call in a runner and return its outcome.

        Never raises for the tool's problems: malformed arguments, an exception, a timeout, a
        dead runner, a full pool each become an error outcome. If the awaiting task is
        cancelled (the session was interrupted or closed), the Ray task is cancelled, which
        stops an async function at once and gets a sync function's runner killed, and
        CancelledError propagates.
        """
        started = time.perf_counter()
        timeout_s = spec.timeout_s or self._settings.default_timeout_s
        exclusive = not spec.is_async or self._settings.max_async_calls_per_runner == 1
        group = spec.runtime_env_key
        call_key = f"{self._client}-{next(self._calls)}"

        def outcome(error_type: str | None, output: str) -> ToolOutcome:
            latency_ms = (time.perf_counter() - started) * 1000
            kind = cast("ToolErrorType | None", error_type)
            return ToolOutcome(call_id, spec.name, error_type is None, output, kind, latency_ms)

        def failure(error_type: ToolErrorType, message: str, **details: int | str) -> ToolOutcome:
            latency_ms = (time.perf_counter() - started) * 1000
            return ToolOutcome.failure(
                error_type,
                message,
                call_id=call_id,
                name=spec.name,
                latency_ms=latency_ms,
                **details,
            )

        for attempt in range(_MAX_ATTEMPTS):
            route = self._pick(group, exclusive) if attempt < _FAST_TRIES else None
            ticket = ""
            if route is None:
                granted = await self._acquire(spec, exclusive)
                if isinstance(granted, _Refusal):
                    return failure(granted.error_type, granted.message, **granted.details)
                route, ticket = granted
            request = CallRequest(
                call_key,
                spec.name,
                spec.ref,
                arguments_json,
                exclusive,
                timeout_s,
                ticket,
                self._version,
            )
            route.in_flight += 1
            route.exclusive = exclusive
            sent_at_ms = time.time() * 1000
            ref = route.handle.invoke.remote(request)
            try:
                async with asyncio.timeout(
                    timeout_s + self._settings.kill_grace_s + _REPLY_MARGIN_S
                ):
                    reply: CallReply = await ref
            except TimeoutError:
                # The runner did not even answer with its own timeout: it is stuck. The keeper
                # kills it; the model hears the same as for any timeout.
                ray.cancel(ref)
                self._keeper.unresponsive.remote(route.slot, route.generation, call_key, spec.name)
                route.skip_until = math.inf
                return failure("timeout", f"the function did not finish within {timeout_s:g} s")
            except asyncio.CancelledError:
                ray.cancel(ref)
                raise
            except RayActorError as error:
                route.skip_until = math.inf
                verdict = await self._lost(route, call_key, spec.name, sent_at_ms)
                if verdict == VERDICT_NOT_STARTED:
                    # A runner that was gone before the call was sent (this copy had not heard
                    # yet): nothing ran, so it runs on a live runner.
                    _log.info("tool runner gone before %s (%s): run elsewhere", spec.name, call_id)
                    continue
                _log.warning("tool runner died during %s (%s): %s", spec.name, call_id, error)
                if verdict == VERDICT_TIMEOUT:
                    return failure("timeout", f"the function did not finish within {timeout_s:g} s")
                return failure(
                    "runner_died", "the process running the function died before it returned"
                )
            except RayTaskError as error:
                # The runner catches the tool's exceptions; reaching here is a fault of the
                # runner itself. Its text holds a traceback, so only the cause's type is shown.
                _log.error("tool runner failed during %s (%s): %s", spec.name, call_id, error)
                return failure("exception", f"tool runner error: {type(error.cause).__name__}")
            except RayError as error:
                _log.error("Ray failed during %s (%s): %s", spec.name, call_id, error)
                return failure("exception", f"tool runner error: {type(error).__name__}")
            finally:
                route.in_flight -= 1
            code, output, error_type, view = reply
            if view is not None:
                self._apply_view(view)
            if code == DONE:
                return outcome(error_type, output)
            # BUSY or RETIRING: nothing ran; pass this runner over for a while.
            route.skip_until = time.monotonic() + _BUSY_HINT_S if code == BUSY else math.inf
        known = sum(len(routes) for routes in self._routes.values())
        return failure(
            "capacity",
            f"no runner accepted the call after {_MAX_ATTEMPTS} attempts",
            limit=self._settings.max_size,
            in_use=known,
            queued=0,
        )

    def shutdown(self) -> None:
        """Kill every runner and the keeper. Call it once, from the driver; idempotent."""
        with contextlib.suppress(RayError):
            ray.get(self._keeper.shutdown.remote(), timeout=_SHUTDOWN_TIMEOUT_S)
        with contextlib.suppress(Exception):
            ray.kill(self._keeper, no_restart=True)

    async def aclose(self) -> None:
        """:meth:`shutdown` for async callers: the same, without blocking the event loop."""
        with contextlib.suppress(RayError, TimeoutError):
            async with asyncio.timeout(_SHUTDOWN_TIMEOUT_S):
                await self._keeper.shutdown.remote()
        with contextlib.suppress(Exception):
            ray.kill(self._keeper, no_restart=True)

    # ------------------------------------------------------------------ internals

    def _pick(self, group: str, exclusive: bool) -> _Route | None:
        routes = self._routes.get(group)
        if not routes:
            return None
        now = time.monotonic()
        limit = self._settings.max_async_calls_per_runner
        count = len(routes)
        self._rotation += 1
        for offset in range(count):
            route = routes[(self._rotation + offset) % count]
            if route.skip_until > now:
                continue
            if exclusive and route.in_flight == 0:
                return route
            if not exclusive and (
                route.in_flight == 0 or (not route.exclusive and route.in_flight < limit)
            ):
                return route
        return None

    async def _acquire(self, spec: ToolSpec, exclusive: bool) -> tuple[_Route, str] | _Refusal:
        ref = self._keeper.acquire.remote(spec.runtime_env_key, spec.runtime_env, exclusive)
        try:
            reply = await ref
        except asyncio.CancelledError:
            ray.cancel(ref)
            raise
        except RayError as error:
            _log.error("tool pool keeper unavailable: %s", error)
            return _Refusal("runner_unavailable", "the tool pool is not running")
        if isinstance(reply, Granted):
            self._apply_view(reply.view)
            route = self._route(spec.runtime_env_key, reply.slot, reply.generation, reply.handle)
            return route, reply.ticket
        if isinstance(reply, CapacityRefused):
            details = {"limit": reply.limit, "in_use": reply.in_use, "queued": reply.queued}
            return _Refusal("capacity", reply.message, details)
        return _Refusal("runner_unavailable", reply.message)

    async def _lost(self, route: _Route, call_key: str, name: str, sent_at_ms: float) -> int:
        report = LostReport(route.slot, route.generation, call_key, name, sent_at_ms)
        try:
            verdict, view = await self._keeper.lost.remote(report)
        except RayError as error:
            _log.error("tool pool keeper could not say whether %s ran: %s", call_key, error)
            return -1
        self._apply_view(view)
        return int(verdict)

    def _route(self, group: str, slot: int, generation: int, handle: Any) -> _Route:
        for route in self._routes.get(group, ()):
            if route.slot == slot and route.generation == generation:
                return route
        route = _Route(slot, generation, handle)
        self._routes.setdefault(group, []).append(route)
        return route

    def _apply_view(self, view: View) -> None:
        version, slots = view
        if version <= self._version:
            return
        self._version = version
        known = {
            (route.slot, route.generation): route
            for routes in self._routes.values()
            for route in routes
        }
        routes: dict[str, list[_Route]] = {}
        for slot, group, generation, handle in slots:
            # Kept objects keep this copy's count of its calls in flight on them.
            route = known.get((slot, generation)) or _Route(slot, generation, handle)
            routes.setdefault(group, []).append(route)
        self._routes = routes

    def __getstate__(self) -> dict[str, Any]:
        # Routes and counters describe this copy's calls; a new copy starts with none in flight.
        view = View(
            self._version,
            tuple(
                SlotView(route.slot, group, route.generation, route.handle)
                for group, routes in self._routes.items()
                for route in routes
            ),
        )
        return {
            "pool_id": self._pool_id,
            "keeper": self._keeper,
            "settings": self._settings,
            "view": view,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._pool_id = state["pool_id"]
        self._keeper = state["keeper"]
        self._settings = state["settings"]
        self._setup(state["view"])

    def __repr__(self) -> str:
        return f"ToolPool(id={self._pool_id!r}, size={self.size})"
