"""A live conversation's handle: the driver's client of its session actor.

The supervisor admits a live session and hands out a session actor (:meth:`voxray.Fleet.
open_session`); from then on the driver talks to that actor directly, through this class, and
gives it back with :meth:`Session.close`. Ray's errors about the actor are mapped here: a dead
actor is a :class:`~voxray.actors.errors.SessionLostError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Self

import numpy as np
import ray
from numpy.typing import NDArray
from ray.exceptions import RayActorError, RayError
from voxray.actors.conversation.events import ConversationEvent
from voxray.actors.conversation.result import SessionResult
from voxray.actors.errors import ActorLostError, SessionLostError, VoxrayError
from voxray.actors.supervision.models import SessionLease
from voxray.handles import ray_errors
from voxray.handles.base import ActorClient
from voxray.handles.supervisor import SupervisorClient

__all__ = ["Session"]


class Session(ActorClient):
    """A live conversation on a session actor: send audio or text, iterate events, close.

    Sends return once the actor took them (about a millisecond): send 100 ms of audio or more
    per call, not 20 ms frames. Events come as they happen through a Ray streaming generator.
    """

    ACTOR = "session"

    def __init__(self, supervisor: SupervisorClient, lease: SessionLease) -> None:
        super().__init__(lease.actor)
        self._supervisor = supervisor
        self._lease = lease
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
        self._get(self._handle.send_audio.remote(_pcm_bytes(pcm), rate, channels))

    def send_text(self, text: str) -> None:
        """A typed user message; the agent answers by voice."""
        self._get(self._handle.send_text.remote(text))

    def say(self, text: str, *, interruptible: bool = True) -> None:
        """Make the agent say ``text`` verbatim."""
        self._get(self._handle.say.remote(text, interruptible))

    async def asend_audio(
        self, pcm: bytes | NDArray[np.int16], *, rate: int, channels: int = 1
    ) -> None:
        """:meth:`send_audio` for asyncio code."""
        await self._acall(self._handle.send_audio.remote(_pcm_bytes(pcm), rate, channels))

    async def asend_text(self, text: str) -> None:
        """:meth:`send_text` for asyncio code."""
        await self._acall(self._handle.send_text.remote(text))

    def events(self) -> Iterator[ConversationEvent]:
        """Every event from now until the session closes (blocking iteration)."""
        try:
            for ref in self._handle.events.remote():
                event: ConversationEvent = ray.get(ref)
                yield event
        except RayError as error:
            raise self._error(error) from error

    async def __aiter__(self) -> AsyncIterator[ConversationEvent]:
        try:
            async for ref in self._handle.events.remote():
                event: ConversationEvent = await ref
                yield event
        except RayError as error:
            raise self._error(error) from error

    def close(self) -> SessionResult:
        """End the session, give its slot back; what it did. Idempotent.

        With the supervisor gone (drained, died), its session actors went with it: the result
        is ``lost``, saying so.
        """
        if self._result is None:
            try:
                self._result = self._supervisor.close_session(self._lease.lease_id)
            except ActorLostError as error:
                self._result = SessionResult.lost(f"session {self.id}: {error}")
        return self._result

    async def aclose(self) -> SessionResult:
        """:meth:`close` for asyncio code."""
        if self._result is None:
            try:
                self._result = await self._supervisor.aclose_session(self._lease.lease_id)
            except ActorLostError as error:
                self._result = SessionResult.lost(f"session {self.id}: {error}")
        return self._result

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _error(self, error: RayError, timeout_s: float | None = None) -> VoxrayError:
        if isinstance(error, RayActorError):  # its actor died: the conversation is lost
            return SessionLostError(f"session {self.id} was lost: {ray_errors.first_line(error)}")
        return super()._error(error, timeout_s)

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, actor={self._lease.actor_name!r})"


def _pcm_bytes(pcm: bytes | NDArray[np.int16]) -> bytes:
    if isinstance(pcm, bytes | bytearray):
        return bytes(pcm)
    return np.ascontiguousarray(pcm, dtype=np.int16).tobytes()
