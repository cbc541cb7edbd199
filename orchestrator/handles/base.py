"""What every typed client shares: its actor handle, calls with Ray's errors mapped, removal."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import ray
from ray.exceptions import RayError
from voxray.handles import ray_errors

__all__ = ["ActorClient"]


class ActorClient:
    """A facade over one actor handle; subclasses name the actor kind (``ACTOR``)."""

    ACTOR: ClassVar[str]
    """The actor kind, as errors name it ("supervisor", "simulator")."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def kill(self) -> None:
        """Remove the actor at once (already gone is fine)."""
        with contextlib.suppress(RayError, ValueError):
            ray.kill(self._handle, no_restart=True)

    def _get(self, ref: Any, *, timeout_s: float | None = None) -> Any:
        return ray_errors.get(ref, actor=self.ACTOR, timeout_s=timeout_s)

    async def _acall(self, ref: Any, *, timeout_s: float | None = None) -> Any:
        return await ray_errors.call(ref, actor=self.ACTOR, timeout_s=timeout_s)
