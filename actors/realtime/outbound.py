"""The bounded outbound queue of one websocket.

Policy: audio appends are droppable — when more than ``max_audio`` are waiting, the oldest audio
is dropped and counted (stale microphone audio is worth less than fresh audio). Control events
are never dropped and keep their order relative to the audio around them, so an ``append`` is
never overtaken by the ``commit`` that follows it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

__all__ = ["OutboundQueue", "OutboundStatistics"]


@dataclass(frozen=True)
class OutboundStatistics:
    """Counters of an :class:`OutboundQueue`."""

    queued: int
    queued_audio: int
    dropped_audio: int
    sent: int


@dataclass(frozen=True)
class _Entry:
    payload: str | bytes
    is_audio: bool


class OutboundQueue:
    """FIFO of serialized frames; droppable audio, never-dropped control events."""

    def __init__(self, *, max_audio: int) -> None:
        if max_audio < 1:
            raise ValueError("max_audio must be at least 1")
        self._max_audio = max_audio
        self._entries: deque[_Entry] = deque()
        self._audio = 0
        self._dropped_audio = 0
        self._sent = 0
        self._nonempty = asyncio.Event()
        self._closed = False

    def put_nowait(self, payload: str | bytes, *, is_audio: bool) -> None:
        """Queue one serialized frame (text, or a binary audio frame). Never blocks; over the
        audio bound, drops the oldest audio."""
        if self._closed:
            return
        self._entries.append(_Entry(payload, is_audio))
        if is_audio:
            self._audio += 1
            if self._audio > self._max_audio:
                self._drop_oldest_audio()
        self._nonempty.set()

    def _drop_oldest_audio(self) -> None:
        for index, entry in enumerate(self._entries):
            if entry.is_audio:
                del self._entries[index]
                self._audio -= 1
                self._dropped_audio += 1
                return

    @property
    def empty(self) -> bool:
        """Nothing is waiting to be sent."""
        return not self._entries

    def note_sent(self) -> None:
        """Count a frame that was written without passing through the queue."""
        self._sent += 1

    async def get(self) -> str | bytes | None:
        """The next frame to send, or None once the queue is closed and empty."""
        while not self._entries:
            if self._closed:
                return None
            self._nonempty.clear()
            await self._nonempty.wait()
        entry = self._entries.popleft()
        if entry.is_audio:
            self._audio -= 1
        self._sent += 1
        return entry.payload

    def clear_audio(self) -> int:
        """Drop every queued audio frame (e.g. on ``input_audio_buffer.clear``); returns count."""
        kept = deque(e for e in self._entries if not e.is_audio)
        dropped = len(self._entries) - len(kept)
        self._entries = kept
        self._audio = 0
        return dropped

    def close(self) -> None:
        """Stop accepting frames; ``get`` drains what is queued, then returns None."""
        self._closed = True
        self._nonempty.set()

    def statistics(self) -> OutboundStatistics:
        """Current counters."""
        return OutboundStatistics(
            queued=len(self._entries),
            queued_audio=self._audio,
            dropped_audio=self._dropped_audio,
            sent=self._sent,
        )
