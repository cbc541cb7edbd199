"""Ray's errors about a voxray actor, as voxray's: the one mapping the typed clients share.

=====================  =====================================================================
Ray raises             voxray raises
=====================  =====================================================================
``RayTaskError``       the ``VoxrayError`` the actor raised, as it was (type, fields,
                       ``retryable``); any other exception as a ``VoxrayError`` naming it
``RayActorError``      :class:`ActorLostError` (``ActorDiedError``, ``ActorUnavailableError``)
``GetTimeoutError``    :class:`ActorTimeoutError`
other ``RayError``     :class:`ActorLostError` (the call could not reach the actor)
=====================  =====================================================================
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError
from voxray.actors.errors import ActorLostError, ActorTimeoutError, VoxrayError

__all__ = ["call", "first_line", "get", "voxray_error"]


def get(ref: Any, *, actor: str, timeout_s: float | None = None) -> Any:
    """``ray.get(ref)`` of a call on ``actor``, Ray's errors mapped."""
    try:
        return ray.get(ref, timeout=timeout_s)
    except RayError as error:
        raise voxray_error(error, actor=actor, timeout_s=timeout_s) from error


async def call(ref: Any, *, actor: str, timeout_s: float | None = None) -> Any:
    """``await ref`` of a call on ``actor`` (within ``timeout_s``), Ray's errors mapped."""
    try:
        return await asyncio.wait_for(ref, timeout=timeout_s)
    except RayError as error:
        raise voxray_error(error, actor=actor, timeout_s=timeout_s) from error
    except TimeoutError as error:
        raise ActorTimeoutError(
            f"the {actor} did not answer within {timeout_s:g} s",
            actor=actor,
            timeout_s=timeout_s or 0.0,
        ) from error


def voxray_error(error: RayError, *, actor: str, timeout_s: float | None = None) -> VoxrayError:
    """``error``, raised by a call on the ``actor`` ("supervisor", "simulator"), as voxray's."""
    if isinstance(error, RayTaskError):
        cause = error.cause
        if isinstance(cause, VoxrayError):
            return cause
        kind = type(cause).__name__ if cause is not None else "RayTaskError"
        return VoxrayError(f"the {actor} failed: {kind}: {first_line(cause or error)}")
    if isinstance(error, RayActorError):
        return ActorLostError(f"the {actor} actor died: {first_line(error)}", actor=actor)
    if isinstance(error, GetTimeoutError):
        waited = f" within {timeout_s:g} s" if timeout_s is not None else ""
        return ActorTimeoutError(
            f"the {actor} did not answer{waited}", actor=actor, timeout_s=timeout_s or 0.0
        )
    return ActorLostError(f"the {actor} could not be reached: {first_line(error)}", actor=actor)


def first_line(error: BaseException) -> str:
    """The first non-blank line of ``error``'s text (Ray's carry whole tracebacks)."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else type(error).__name__
