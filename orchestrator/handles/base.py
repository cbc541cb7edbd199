"""What every typed client shares: its actor handle, calls with Ray's errors mapped, removal."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

import ray
from ray.exceptions import RayError
from voxray.actors.errors import ActorTimeoutError, VoxrayError
from voxray.handles import ray_errors

__all__ = ["ActorClient"]


class ActorClient:
    """A facade over one actor handle; subclasses name the actor kind (``ACTOR``)."""

    ACTOR: ClassVar[str]
    """The actor kind, as errors name it ("supervisor", "simulator")."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def _kill(self) -> None:
        """Remove the actor at once (already gone is fine)."""
        with contextlib.suppress(RayError, ValueError):
            ray.kill(self._handle, no_restart=True)

    def _error(self, error: RayError, timeout_s: float | None = None) -> VoxrayError:
        """``error`` as voxray's (a subclass may name its own lost error)."""
        return ray_errors.voxray_error(error, actor=self.ACTOR, timeout_s=timeout_s)

    def _get(self, ref: Any, *, timeout_s: float | None = None) -> Any:
        try:
            return ray.get(ref, timeout=timeout_s)
        except RayError as error:
            raise self._error(error, timeout_s) from error

    async def _acall(self, ref: Any, *, timeout_s: float | None = None) -> Any:
        try:
            return await asyncio.wait_for(ref, timeout=timeout_s)
        except RayError as error:
            raise self._error(error, timeout_s) from error
        except TimeoutError as error:
            raise ActorTimeoutError(
                f"the {self.ACTOR} did not answer within {timeout_s:g} s",
                actor=self.ACTOR,
                timeout_s=timeout_s or 0.0,
            ) from error
