"""A simulated microphone: streams audio into a conversation at real-time pace.

Like a real microphone it never stops: between utterances it sends silence, which is what lets
server VAD hear the end of a turn. Chunks are sent on an absolute schedule (start + k * chunk),
so sleeping late never accumulates drift. ``speed`` > 1 paces faster for quick offline runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from actors.conversation.engine import Conversation

__all__ = ["Microphone"]


class Microphone:
    """Feeds a :class:`Conversation` with queued speech, or silence when there is none.

    Args:
        conversation: where the audio goes.
        rate: sample rate of everything queued here (mono int16).
        chunk_ms: audio per send.
        speed: pacing factor (1 = real time).
        continuous: send silence between utterances (server VAD); False sends speech only.
    """

    def __init__(
        self,
        conversation: Conversation,
        *,
        rate: int,
        chunk_ms: int,
        speed: float,
        continuous: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conversation = conversation
        self.rate = rate
        self._chunk = rate * chunk_ms // 1000
        self._chunk_s = chunk_ms / 1000 / speed
        self._speed = speed
        self._lateness_ms: list[float] = []
        self._continuous = continuous
        self._clock = clock
        self._pending = np.zeros(0, dtype=np.int16)
        self._drained = asyncio.Event()
        self._drained.set()
        self._wake = asyncio.Event()
        self._position_ms = 0.0
        self._speech_end_ms = 0.0

    async def run(self) -> None:
        """Stream until cancelled."""
        start = self._clock()
        sent = 0
        silence = np.zeros(self._chunk, dtype=np.int16)
        while True:
            if not self._continuous and not len(self._pending):
                self._wake.clear()
                await self._wake.wait()
                start, sent = self._clock(), 0
            due = start + sent * self._chunk_s
            delay = due - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            # How late this frame leaves against its real-time schedule: the figure that shows
            # an overloaded process (every session in it shares one event loop).
            self._lateness_ms.append(max(0.0, (self._clock() - due) * 1000 * self._speed))
            drained = False
            if len(self._pending):
                chunk, self._pending = self._pending[: self._chunk], self._pending[self._chunk :]
                if not len(self._pending):
                    drained = True
                    self._speech_end_ms = self._position_ms + len(chunk) * 1000 / self.rate
                if len(chunk) < self._chunk and self._continuous:
                    chunk = np.concatenate((chunk, silence[: self._chunk - len(chunk)]))
            else:
                chunk = silence
            self._conversation.send_audio(chunk, rate=self.rate, channels=1)
            self._position_ms += len(chunk) * 1000 / self.rate
            sent += 1
            if drained:
                self._drained.set()

    async def speak(self, samples: NDArray[np.int16]) -> float:
        """Queue an utterance; returns once it was sent, with where it ended on the timeline."""
        if not len(samples):
            return self._position_ms
        self._drained.clear()
        self._pending = np.concatenate((self._pending, samples))
        self._wake.set()
        await self._drained.wait()
        return self._speech_end_ms

    @property
    def lateness_ms(self) -> list[float]:
        """Per frame sent: ms after its scheduled time (on the audio timeline)."""
        return self._lateness_ms

    @property
    def position_ms(self) -> float:
        """How much audio this microphone has sent: its position on the timeline."""
        return self._position_ms
