"""Liveness: a dead session is noticed at once, a stuck one is killed, a stop is clean.

Death is noticed by awaiting the session's in-flight ``run_scenario`` ObjectRef: when the actor
process dies, Ray fails that ref with ``ActorDiedError`` as soon as the owner hears of it
(milliseconds for a killed process on a live node), so no polling is needed for it. This is the
one place where Ray's actor errors become :class:`~voxray.actors.errors.SessionLostError`.

A stuck session is one whose progress counter (events in + audio out, read from the actor's
``health`` concurrency group, so a busy or wedged default group still answers) has not moved for
``stall_timeout_s``: its actor is killed. One ``health()`` call per live session every
``check_every_s`` seconds is the only polling, and it also carries the memory figures that
placement and recycling use.

A stop request (drain deadline, job cancelled) cancels the in-flight call, which lets the
conversation close its websocket; an actor that does not finish within the grace period is
killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import (
    GetTimeoutError,
    RayActorError,
    RayError,
    RayTaskError,
    TaskCancelledError,
)
from voxray.actors.conversation.result import SessionResult
from voxray.actors.errors import SessionLostError
from voxray.actors.supervision.health import SessionHealth

__all__ = ["SessionWatch", "watch_lease", "watch_session"]

logger = logging.getLogger("voxray.supervisor.liveness")


@dataclass
class SessionWatch:
    """The knobs and hooks of one watched session."""

    stall_timeout_s: float
    check_every_s: float
    stop_grace_s: float
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    """Set it to stop the session cleanly (drain, cancel)."""
    stop_reason: str = "stopped"
    shared_host: bool = False
    """The actor hosts other conversations too: a stop that times out reports this one lost
    but never kills the actor (the host's own watchdog ends a stuck conversation)."""
    on_health: Callable[[SessionHealth], None] = lambda health: None
    clock: Callable[[], float] = time.monotonic


async def watch_session(actor: Any, ref: Any, watch: SessionWatch) -> SessionResult:
    """Await ``ref`` (the actor's ``run_scenario``) while watching the actor's progress.

    Returns the session's result, or a ``failed`` result when it was stopped on request.

    Raises:
        SessionLostError: the actor died, or made no progress for ``stall_timeout_s`` and was
            killed.
    """
    call: asyncio.Future[SessionResult] = asyncio.ensure_future(ref)
    stop = asyncio.ensure_future(watch.stop.wait())
    either: set[asyncio.Future[Any]] = {call, stop}
    last_progress: int | None = None
    last_change = watch.clock()
    try:
        while True:
            done, _ = await asyncio.wait(
                either, timeout=watch.check_every_s, return_when=asyncio.FIRST_COMPLETED
            )
            if call in done:
                return _outcome(call)
            if stop in done:
                return await _stop(actor, ref, call, watch)
            progress = await _progress(actor, watch)
            if progress is not None and progress != last_progress:
                last_progress, last_change = progress, watch.clock()
            stalled_s = watch.clock() - last_change
            if stalled_s >= watch.stall_timeout_s:
                _kill(actor)
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(call, timeout=watch.stop_grace_s)
                raise SessionLostError(
                    f"no progress for {stalled_s:.1f} s (limit {watch.stall_timeout_s:g} s); "
                    "its actor was killed"
                )
    except asyncio.CancelledError:
        # The caller gave up (its job was cancelled): stop the conversation all the same.
        await _stop(actor, ref, call, watch)
        raise
    finally:
        stop.cancel()


def _outcome(call: asyncio.Future[SessionResult]) -> SessionResult:
    try:
        return call.result()
    except RayActorError as error:
        raise SessionLostError(f"its actor died: {_first_line(error)}") from error
    except RayTaskError as error:
        # run_scenario turns every VoxrayError into a result; reaching here is a bug in it.
        cause = error.cause if error.cause is not None else error
        return SessionResult.failed(cause)


async def _stop(
    actor: Any, ref: Any, call: asyncio.Future[SessionResult], watch: SessionWatch
) -> SessionResult:
    ray.cancel(ref)
    try:
        result = await asyncio.wait_for(asyncio.shield(call), timeout=watch.stop_grace_s)
    except (TaskCancelledError, asyncio.CancelledError):
        return SessionResult.lost(watch.stop_reason)
    except TimeoutError:
        if watch.shared_host:
            return SessionResult.lost(f"{watch.stop_reason} (did not stop)")
        logger.warning("a session did not stop within %.1f s; killing it", watch.stop_grace_s)
        _kill(actor)
        return SessionResult.lost(f"{watch.stop_reason} (actor killed)")
    except RayError as error:
        return SessionResult.lost(f"{watch.stop_reason}: {_first_line(error)}")
    return result


async def _progress(actor: Any, watch: SessionWatch) -> int | None:
    try:
        health: SessionHealth = await asyncio.wait_for(
            actor.health.remote(), timeout=watch.check_every_s
        )
    except (TimeoutError, GetTimeoutError, RayError):
        return None  # no answer is no progress
    watch.on_health(health)
    return health.progress


def _kill(actor: Any) -> None:
    with contextlib.suppress(Exception):
        ray.kill(actor, no_restart=True)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


async def watch_lease(actor: Any, watch: SessionWatch) -> SessionLostError | None:
    """Watch a live (leased) session, which has no call of the supervisor's in flight.

    Returns None when ``watch.stop`` is set (the lease was closed), else why the session is
    lost: its actor died (seen at the next ``health()`` call, every ``check_every_s``), or it
    made no progress for ``stall_timeout_s`` (no audio in, no event out) and was killed.
    """
    last_progress: int | None = None
    last_change = watch.clock()
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.stop.wait(), timeout=watch.check_every_s)
        if watch.stop.is_set():
            return None
        health: SessionHealth | None = None
        try:
            health = await asyncio.wait_for(actor.health.remote(), timeout=watch.check_every_s)
        except RayActorError as error:
            return SessionLostError(f"its actor died: {_first_line(error)}")
        except (TimeoutError, GetTimeoutError, RayError):
            pass  # no answer is no progress
        if health is not None:
            watch.on_health(health)
            if health.progress != last_progress:
                last_progress, last_change = health.progress, watch.clock()
        stalled_s = watch.clock() - last_change
        if stalled_s >= watch.stall_timeout_s:
            _kill(actor)
            return SessionLostError(
                f"no progress for {stalled_s:.1f} s (limit {watch.stall_timeout_s:g} s); "
                "its actor was killed"
            )
