"""The pool's keeper: one actor per pool that owns the runners and everything slow.

Clients call runners directly (one Ray round trip per tool call, admission included). The keeper
is only on the slow paths, where it is the single authority:

- **growth and the queue**: a client that finds no runner with room calls :meth:`acquire`; the
  keeper reserves room on a runner, starts one more (up to ``max_size``, a group per distinct
  ``runtime_env``), or holds the call until a runner reports it has room again, at most
  ``max_queued_calls`` calls and ``queue_timeout_s`` each;
- **replacement**: runners that stop themselves (a call could not be stopped from inside), die
  (``os._exit``, a segfault) or stop answering are killed and started again, once, whichever
  client noticed first; clients learn the new list of runners from the next reply of any runner
  (the keeper hands every runner the list) or from the keeper's answer to their report;
- **verdicts**: a client whose call was on a runner that died asks :meth:`lost` whether the call
  ran. A runner that stopped itself says which calls it had admitted; for a runner that died any
  other way, Ray's control store (GCS) says when it was recorded dead, and a call sent after
  that never reached it (a client that had not heard of the death yet: every copy handed to a
  new session carries the list of runners it was made with). Such calls are run elsewhere;
  every other case is reported as ``runner_died``;
- **health and figures**: every ``health_interval_s`` it pings the runners (in their own
  concurrency group, so a blocked event loop still answers), gathers their per-tool figures,
  kills runners that stopped answering or could not stop an overdue call, and stops surplus
  runners that have been idle for ``idle_timeout_s``.

Runners are owned by the keeper (it creates them), so they die with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import ray
from ray.exceptions import RayActorError, RayError
from voxray.actors.tools.metrics import (
    PoolStatistics,
    ToolCounters,
    ToolStats,
    merge_all,
    snapshot_all,
)
from voxray.actors.tools.protocol import (
    VERDICT_DIED,
    VERDICT_NOT_STARTED,
    VERDICT_TIMEOUT,
    AcquireReply,
    CapacityRefused,
    Granted,
    LostReply,
    LostReport,
    PingReply,
    SlotView,
    Unavailable,
    View,
)
from voxray.actors.tools.redact import SecretScrubber, looks_secret
from voxray.actors.tools.runner_actor import RunnerActor, RunnerConfig, ray_method
from voxray.actors.tools.settings import ToolPoolSettings

__all__ = ["DEFAULT_GROUP", "KeeperActor"]

DEFAULT_GROUP: Final = ""
"""The runtime_env key of the pool's own runners (no runtime_env of their own)."""

_TICKET_TTL_S: Final = 5.0
_RETIRE_KILL_DELAY_S: Final = 0.5  # lets replies already sent by a retiring runner arrive
_RECLAIM_IDLE_S: Final = 1.0  # a runner idle this long has no reply left on its way
_FAILURE_HOLD_S: Final = 30.0  # a runtime_env that failed is not tried again for this long
_MAX_GRAVES: Final = 512
_WAKE_CHECK_S: Final = 1.0  # waiters re-check at least this often, in case a wake-up was lost
_RUNNER_CONCURRENCY: Final = 1000  # Ray's default for async actors; admission is ours
# A call sent this long after its runner was recorded dead certainly never reached it, even with
# the clocks of two nodes a little apart (the client's send time against the GCS's record).
_DEAD_BEFORE_SEND_MARGIN_MS: Final = 100.0

_log = logging.getLogger(__name__)


@dataclass
class _Slot:
    group: str
    runtime_env: dict[str, Any] | None
    generation: int
    handle: Any
    ready: bool = False
    busy_hint: bool = False
    running: int = 0
    start_deadline: float = 0.0


@dataclass(frozen=True)
class _Grave:
    reason: str
    clean: bool  # the runner itself said which calls it had admitted
    culprits: Mapping[str, str] = field(default_factory=dict)
    admitted: frozenset[str] = frozenset()
    handle: Any = None
    dead_since_ms: float | None = None  # when the GCS recorded the runner dead, once looked up


class _PoolKeeper:
    """The body of the keeper actor; see the module docstring."""

    def __init__(self, pool_id: str, namespace: str | None, settings: ToolPoolSettings) -> None:
        self._pool_id = pool_id
        self._namespace = namespace
        self._settings = settings
        self._self: Any = None
        self._slots: dict[int, _Slot] = {}
        self._next_slot = 0
        self._version = 0
        self._graves: OrderedDict[tuple[int, int], _Grave] = OrderedDict()
        self._failures: dict[str, tuple[float, str]] = {}
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self._queued: dict[str, int] = {}
        self._figures: dict[str, ToolCounters] = {}
        self._counts = {"refused": 0, "started": 0, "replaced": 0, "retired": 0}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the pool's ``size`` runners and the health checks. Idempotent."""
        if self._started:
            return
        self._started = True
        self._self = ray.get_runtime_context().current_actor
        for _ in range(self._settings.size):
            self._add_runner(DEFAULT_GROUP, None)
        self._spawn(self._health_loop(), "health")

    async def wait_ready(self, timeout_s: float) -> View:
        """The view once the pool's own ``size`` runners answer.

        Raises:
            TimeoutError: they did not within ``timeout_s``.
        """
        await self.start()
        async with asyncio.timeout(timeout_s):
            while self._count(DEFAULT_GROUP, ready_only=True) < self._settings.size:
                await self._wait_change(DEFAULT_GROUP, _WAKE_CHECK_S)
        return self._view()

    async def view(self) -> View:
        """The current list of ready runners."""
        return self._view()

    async def shutdown(self) -> None:
        """Kill every runner; later requests are answered ``runner_unavailable``."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for slot in self._slots.values():
            _kill(slot.handle)
        self._slots.clear()
        for group in list(self._waiters):
            self._wake(group)

    # ------------------------------------------------------------------ the queue

    @ray_method(enable_task_events=False)
    async def acquire(
        self, group: str, runtime_env: dict[str, Any] | None, exclusive: bool
    ) -> AcquireReply:
        """Room for one call on a runner of ``group``, waiting and growing as needed."""
        unavailable = self._unavailable(group)
        if unavailable is not None:
            return Unavailable(unavailable)
        # Room the client did not know of (a runner it has not heard of yet) is not a queue.
        granted = await self._reserve(group, exclusive)
        if granted is not None:
            return granted
        queued = sum(self._queued.values())
        if queued >= self._settings.max_queued_calls:
            self._counts["refused"] += 1
            return self._capacity(
                f"all {len(self._slots)} runners are busy and {queued} calls are already waiting"
            )
        self._queued[group] = self._queued.get(group, 0) + 1
        deadline = time.monotonic() + self._settings.queue_timeout_s
        try:
            while True:
                granted = await self._reserve(group, exclusive)
                if granted is not None:
                    self._wake(group, 1)  # there may be more room: let the next waiter look
                    return granted
                unavailable = self._unavailable(group)
                if unavailable is not None:
                    return Unavailable(unavailable)
                await self._grow(group, runtime_env, exclusive)
                limit = max(deadline, self._start_deadline(group))
                now = time.monotonic()
                if now >= limit:
                    self._counts["refused"] += 1
                    return self._capacity(
                        f"waited {self._settings.queue_timeout_s:g} s for a free runner"
                    )
                await self._wait_change(group, min(limit - now, _WAKE_CHECK_S))
        finally:
            self._queued[group] -= 1

    @ray_method(enable_task_events=False)
    async def runner_freed(self, slot_id: int, generation: int) -> None:
        """A runner that turned calls away has room again."""
        slot = self._current(slot_id, generation)
        if slot is not None:
            slot.busy_hint = False
            self._wake(slot.group, 1)

    # ------------------------------------------------------------------ replacement

    async def retire(
        self,
        slot_id: int,
        generation: int,
        stuck: dict[str, str],
        admitted: list[str],
        figures: dict[str, ToolStats],
    ) -> None:
        """A runner stopped itself: ``stuck`` calls cannot be stopped but by its death."""
        merge_all(self._figures, figures.items())
        self._remove(
            slot_id,
            generation,
            "stuck call",
            grave=_Grave("stuck call", True, dict(stuck), frozenset(admitted)),
            kill_delay_s=_RETIRE_KILL_DELAY_S,
        )

    async def lost(self, report: LostReport) -> LostReply:
        """A client's call failed because its runner died: did the call run?"""
        slot_id, generation, call_key, name, sent_at_ms = report
        key = (slot_id, generation)
        if key not in self._graves:
            self._remove(slot_id, generation, "died", grave=_Grave("died", False))
        # No grave: a runner forgotten long ago; nothing can be said for sure.
        grave = self._graves.get(key, _Grave("died", False))
        if call_key in grave.culprits:
            verdict = VERDICT_TIMEOUT if grave.culprits[call_key] == "timeout" else VERDICT_DIED
        elif grave.clean:
            verdict = VERDICT_DIED if call_key in grave.admitted else VERDICT_NOT_STARTED
        else:
            dead_since_ms = await self._dead_since_ms(key, grave)
            sent_after_death = (
                dead_since_ms is not None
                and sent_at_ms - dead_since_ms > _DEAD_BEFORE_SEND_MARGIN_MS
            )
            verdict = VERDICT_NOT_STARTED if sent_after_death else VERDICT_DIED
        if verdict == VERDICT_DIED:
            self._record(name, "runner_died")
        return LostReply(verdict, self._view())

    async def unresponsive(self, slot_id: int, generation: int, call_key: str, name: str) -> None:
        """A client gave up on a call well past its timeout: the runner is stuck. Kill it."""
        self._record(name, "timeout")
        self._remove(
            slot_id,
            generation,
            "unresponsive",
            grave=_Grave("unresponsive", False, {call_key: "timeout"}),
        )

    # ------------------------------------------------------------------ figures

    async def statistics(self) -> PoolStatistics:
        """The pool's figures, with every runner's latest."""
        await self._check_runners(act=False)
        by_env: dict[str, int] = {}
        for slot in self._slots.values():
            key = slot.group or "default"
            by_env[key] = by_env.get(key, 0) + 1
        return PoolStatistics(
            runners=len(self._slots),
            busy_runners=sum(1 for slot in self._slots.values() if slot.running),
            max_size=self._settings.max_size,
            queued_calls=sum(self._queued.values()),
            max_queued_calls=self._settings.max_queued_calls,
            capacity_refusals=self._counts["refused"],
            runners_started=self._counts["started"],
            runners_replaced=self._counts["replaced"],
            runners_retired=self._counts["retired"],
            runtime_envs=by_env,
            tools=snapshot_all(self._figures),
        )

    # ------------------------------------------------------------------ internals

    def _add_runner(
        self,
        group: str,
        runtime_env: dict[str, Any] | None,
        slot_id: int | None = None,
        generation: int = 0,
    ) -> None:
        if slot_id is None:
            slot_id = self._next_slot
            self._next_slot += 1
        options: dict[str, Any] = {
            "name": f"voxray-tool-runner-{self._pool_id}-{slot_id}.{generation}",
            "namespace": self._namespace,
            "max_concurrency": _RUNNER_CONCURRENCY,
        }
        if runtime_env is not None:
            options["runtime_env"] = runtime_env
        config = RunnerConfig(
            slot=slot_id,
            generation=generation,
            keeper=self._self,
            max_async_calls=self._settings.max_async_calls_per_runner,
            max_output_bytes=self._settings.max_output_bytes,
            kill_grace_s=self._settings.kill_grace_s,
        )
        handle = RunnerActor.options(**options).remote(config)
        deadline = time.monotonic() + self._settings.start_timeout_s
        self._slots[slot_id] = _Slot(
            group, runtime_env, generation, handle, start_deadline=deadline
        )
        self._counts["started"] += 1
        self._spawn(self._await_ready(slot_id, generation), f"start-{slot_id}.{generation}")

    async def _await_ready(self, slot_id: int, generation: int) -> None:
        slot = self._slots[slot_id]
        try:
            async with asyncio.timeout(self._settings.start_timeout_s):
                await slot.handle.ping.remote()
        except (RayError, TimeoutError) as error:
            message = _first_line(error, slot.runtime_env)
            _log.error("tool runner %d.%d failed to start: %s", slot_id, generation, message)
            if self._current(slot_id, generation) is not None:
                del self._slots[slot_id]
                _kill(slot.handle)
            if slot.group != DEFAULT_GROUP:
                # Most likely the runtime_env (a pip install that fails): do not retry at once.
                hold_until = time.monotonic() + _FAILURE_HOLD_S
                self._failures[slot.group] = (hold_until, f"its runner could not start: {message}")
            self._wake(slot.group)
            return
        if self._current(slot_id, generation) is None:
            return
        slot.ready = True
        self._failures.pop(slot.group, None)
        self._publish()
        self._wake(slot.group)

    def _remove(
        self,
        slot_id: int,
        generation: int,
        reason: str,
        *,
        grave: _Grave,
        replace: bool = True,
        kill_delay_s: float = 0.0,
    ) -> None:
        slot = self._current(slot_id, generation)
        if slot is None:
            return  # another report got here first
        self._graves[(slot_id, generation)] = dataclasses.replace(grave, handle=slot.handle)
        while len(self._graves) > _MAX_GRAVES:
            self._graves.popitem(last=False)
        del self._slots[slot_id]
        if kill_delay_s > 0:
            asyncio.get_running_loop().call_later(kill_delay_s, _kill, slot.handle)
        else:
            _kill(slot.handle)
        _log.warning("tool runner %d.%d removed: %s", slot_id, generation, reason)
        if replace and not self._closed:
            self._counts["replaced"] += 1
            self._add_runner(slot.group, slot.runtime_env, slot_id, generation + 1)
        else:
            self._counts["retired"] += 1
        if slot.ready:
            self._publish()
        self._wake(slot.group)

    async def _reserve(self, group: str, exclusive: bool) -> AcquireReply | None:
        candidates = [
            (slot_id, slot)
            for slot_id, slot in self._slots.items()
            if slot.group == group and slot.ready and not slot.busy_hint
        ]
        for slot_id, slot in candidates:
            try:
                ticket = await slot.handle.reserve.remote(exclusive, _TICKET_TTL_S)
            except RayActorError:
                self._remove(slot_id, slot.generation, "died", grave=_Grave("died", False))
                continue
            except RayError:
                continue
            if ticket:
                return Granted(slot_id, slot.generation, slot.handle, ticket, self._view())
            slot.busy_hint = True  # it will say when it has room (runner_freed)
        return None

    async def _grow(self, group: str, runtime_env: dict[str, Any] | None, exclusive: bool) -> None:
        starting = self._count(group) - self._count(group, ready_only=True)
        # Sync calls need a runner each; async calls share one, so one start is enough.
        needed = self._queued.get(group, 0) > starting if exclusive else starting == 0
        if not needed or self._closed:
            return
        if len(self._slots) >= self._settings.max_size and not await self._reclaim(group):
            return
        self._add_runner(group, runtime_env)

    async def _reclaim(self, group: str) -> bool:
        """Stop an idle surplus runner of another runtime_env to make room; whether one was."""
        for slot_id, slot in list(self._slots.items()):
            if slot.group == group or not slot.ready or slot.busy_hint:
                continue
            if self._count(slot.group) <= self._minimum(slot.group):
                continue
            try:
                idle = await slot.handle.retire_if_idle.remote(_RECLAIM_IDLE_S)
            except RayError:
                continue
            if idle:
                grave = _Grave("reclaimed", True)
                self._remove(
                    slot_id,
                    slot.generation,
                    "reclaimed",
                    grave=grave,
                    replace=False,
                    kill_delay_s=_RETIRE_KILL_DELAY_S,
                )
                return True
        return False

    async def _health_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._settings.health_interval_s)
            try:
                await self._check_runners(act=True)
            except Exception:
                _log.exception("tool pool health check failed")
            for _ in range(self._settings.size - self._count(DEFAULT_GROUP)):
                self._add_runner(DEFAULT_GROUP, None)

    async def _check_runners(self, *, act: bool) -> None:
        ready = [(slot_id, slot) for slot_id, slot in self._slots.items() if slot.ready]
        timeout_s = max(self._settings.health_interval_s, 2.0)
        replies = await asyncio.gather(
            *(_ping(slot.handle, timeout_s) for _, slot in ready), return_exceptions=True
        )
        for (slot_id, slot), reply in zip(ready, replies, strict=True):
            if isinstance(reply, RayActorError):
                self._remove(slot_id, slot.generation, "died", grave=_Grave("died", False))
            elif isinstance(reply, BaseException):
                if act and isinstance(reply, TimeoutError):
                    grave = _Grave("unresponsive", False)
                    self._remove(slot_id, slot.generation, "unresponsive", grave=grave)
            else:
                await self._absorb(slot_id, slot, reply, act=act)

    async def _absorb(self, slot_id: int, slot: _Slot, reply: PingReply, *, act: bool) -> None:
        running, idle_s, late_s, _stopping, figures = reply
        merge_all(self._figures, figures.items())
        slot.running = running
        if not act:
            return
        if late_s > 2 * self._settings.kill_grace_s + self._settings.health_interval_s:
            # The runner could not stop an overdue call itself: its event loop is blocked.
            self._remove(slot_id, slot.generation, "overdue", grave=_Grave("overdue", False))
        elif idle_s > self._settings.idle_timeout_s and self._count(slot.group) > self._minimum(
            slot.group
        ):
            with contextlib.suppress(RayError):
                if await slot.handle.retire_if_idle.remote(self._settings.idle_timeout_s):
                    self._remove(
                        slot_id,
                        slot.generation,
                        "idle",
                        grave=_Grave("idle", True),
                        replace=False,
                        kill_delay_s=_RETIRE_KILL_DELAY_S,
                    )

    def _publish(self) -> None:
        self._version += 1
        view = self._view()
        for slot in self._slots.values():
            if slot.ready:
                slot.handle.set_view.remote(view)

    def _view(self) -> View:
        return View(
            self._version,
            tuple(
                SlotView(slot_id, slot.group, slot.generation, slot.handle)
                for slot_id, slot in sorted(self._slots.items())
                if slot.ready
            ),
        )

    async def _dead_since_ms(self, key: tuple[int, int], grave: _Grave) -> float | None:
        """When the GCS recorded the grave's runner dead (ms since the epoch), or None."""
        if grave.dead_since_ms is None and grave.handle is not None:
            dead_since_ms = await asyncio.to_thread(_recorded_death_ms, grave.handle)
            if dead_since_ms is not None and key in self._graves:
                self._graves[key] = dataclasses.replace(grave, dead_since_ms=dead_since_ms)
            return dead_since_ms
        return grave.dead_since_ms

    def _current(self, slot_id: int, generation: int) -> _Slot | None:
        slot = self._slots.get(slot_id)
        return slot if slot is not None and slot.generation == generation else None

    def _count(self, group: str, *, ready_only: bool = False) -> int:
        return sum(
            1
            for slot in self._slots.values()
            if slot.group == group and (slot.ready or not ready_only)
        )

    def _minimum(self, group: str) -> int:
        return self._settings.size if group == DEFAULT_GROUP else 0

    def _start_deadline(self, group: str) -> float:
        # While a group has no ready runner, its calls wait for the one starting (pip installs
        # can take longer than the queue timeout).
        if self._count(group, ready_only=True):
            return 0.0
        starting = [s.start_deadline for s in self._slots.values() if s.group == group]
        return max(starting, default=0.0)

    def _unavailable(self, group: str) -> str | None:
        if self._closed:
            return "the tool pool is shut down"
        failure = self._failures.get(group)
        if failure is None:
            return None
        until, message = failure
        if time.monotonic() >= until:
            del self._failures[group]
            return None
        return message

    def _capacity(self, message: str) -> AcquireReply:
        limit = self._settings.max_queued_calls
        queued = sum(self._queued.values())
        busy = len(self._slots)
        text = f"the tool pool is at capacity: {message} (max {self._settings.max_size} runners)"
        return CapacityRefused(text, limit, busy, queued)

    def _record(self, name: str, error_type: str) -> None:
        counters = self._figures.get(name)
        if counters is None:
            counters = self._figures[name] = ToolCounters()
        counters.record(error_type, None)

    async def _wait_change(self, group: str, timeout_s: float) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(group, deque())
        waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            pass
        finally:
            with contextlib.suppress(ValueError):
                waiters.remove(waiter)

    def _wake(self, group: str, count: int | None = None) -> None:
        waiters = self._waiters.get(group)
        woken = 0
        while waiters and (count is None or woken < count):
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                woken += 1

    def _spawn(self, coroutine: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(
            coroutine, name=f"tool-pool-{self._pool_id}-{name}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _recorded_death_ms(handle: Any) -> float | None:
    """When the GCS recorded the actor dead, in ms since the epoch; None if alive or unknown.

    Ray's public state API needs the dashboard, which the embedded cluster does not start; its
    global state client reads the same actor table straight from the GCS (≈ 1 ms). Should the
    private call change shape, the answer is None and the verdict stays ``runner_died``.
    """
    try:
        from ray._private import state

        info = state.actors(handle._actor_id.hex())
    except Exception:
        _log.debug("actor table lookup failed", exc_info=True)
        return None
    if not isinstance(info, dict) or info.get("State") != "DEAD":
        return None
    end_ms = info.get("EndTime")
    return float(end_ms) if isinstance(end_ms, int | float) and end_ms > 0 else None


async def _ping(handle: Any, timeout_s: float) -> PingReply:
    async with asyncio.timeout(timeout_s):
        reply: PingReply = await handle.ping.remote()
    return reply


def _kill(handle: Any) -> None:
    with contextlib.suppress(Exception):
        ray.kill(handle, no_restart=True)


def _first_line(error: BaseException, runtime_env: Mapping[str, Any] | None) -> str:
    # Ray's errors run to pages (pip logs, tracebacks); the first line names the cause. The
    # runtime_env's own secret-looking values are hidden, should they be echoed.
    text = str(error).strip().splitlines()
    line = f"{type(error).__name__}: {text[0] if text else ''}".strip()[:300]
    env_vars = (runtime_env or {}).get("env_vars") or {}
    secrets: Sequence[str] = [v for k, v in env_vars.items() if looks_secret(k)]
    return SecretScrubber(secrets).scrub(SecretScrubber.from_environ().scrub(line))


KeeperActor: Any = ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)(_PoolKeeper)
"""The Ray actor class of a keeper; :class:`~voxray.actors.tools.pool.ToolPool` creates one per
pool."""
