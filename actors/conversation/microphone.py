"""A simulated microphone: streams audio into a conversation at real-time pace.

Like a real microphone it never stops: between utterances it sends silence, which is what lets
server VAD hear the end of a turn. Chunks are sent on an absolute schedule (start + k * chunk),
so sleeping late never accumulates drift. ``speed`` > 1 paces faster for quick offline runs.

Each frame is sent from a timer callback, not from a task waking from ``sleep``: at 50 frames a
second per conversation the task machinery (a future, a wake-up, a step) was a large share of a
conversation's CPU. Each microphone keeps its own phase (when it started): lining the
microphones of a packed host up on one grid saved a few percent of CPU but sent them in bursts,
and the last of a burst left late (lateness p99 about twice as high at 50 conversations).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from voxray.actors.conversation.engine import Conversation

__all__ = ["Microphone"]


class Microphone:
    """Feeds a :class:`Conversation` with queued speech, or silence when there is none.

    Args:
        conversation: where the audio goes.
        rate: sample rate of everything queued here (mono int16).
        chunk_ms: audio per send.
        speed: pacing factor (1 = real time).
        continuous: send silence between utterances (server VAD); False sends speech only.
        clock: the event loop's clock unless a test supplies one (it must agree with it).
        line: transforms every chunk before it is sent (a caller condition: noise, a phone
            line, packet loss); it must return as many samples as it is given.
    """

    def __init__(
        self,
        conversation: Conversation,
        *,
        rate: int,
        chunk_ms: int,
        speed: float,
        continuous: bool,
        clock: Callable[[], float] | None = None,
        line: Callable[[NDArray[np.int16]], NDArray[np.int16]] | None = None,
    ) -> None:
        self._conversation = conversation
        self.rate = rate
        self._chunk = rate * chunk_ms // 1000
        self._chunk_s = chunk_ms / 1000 / speed
        self._speed = speed
        self._lateness_ms: list[float] = []
        self._continuous = continuous
        self._clock = clock
        self._silence = np.zeros(self._chunk, dtype=np.int16)
        self._pending = np.zeros(0, dtype=np.int16)
        self._drained = asyncio.Event()
        self._drained.set()
        self._position_ms = 0.0
        self._speech_end_ms = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._stopped: asyncio.Future[None] | None = None
        self._line = line

    async def run(self) -> None:
        """Stream until cancelled; raises what sending a frame raised."""
        self._loop = loop = asyncio.get_running_loop()
        self._stopped = loop.create_future()
        if self._continuous or len(self._pending):
            self._schedule_from_now()
        try:
            await self._stopped
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    async def speak(self, samples: NDArray[np.int16]) -> float:
        """Queue an utterance; returns once it was sent, with where it ended on the timeline."""
        if not len(samples):
            return self._position_ms
        self._drained.clear()
        self._pending = np.concatenate((self._pending, samples))
        if self._timer is None and self._loop is not None and not self._stopped_yet():
            self._schedule_from_now()
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

    # --- the timer chain ---------------------------------------------------------------------

    def _now(self) -> float:
        assert self._loop is not None
        return self._clock() if self._clock is not None else self._loop.time()

    def _stopped_yet(self) -> bool:
        return self._stopped is None or self._stopped.done()

    def _schedule_from_now(self) -> None:
        self._due = self._now()
        self._arm()

    def _arm(self) -> None:
        assert self._loop is not None
        if self._clock is None:  # due on the loop's own clock: no delay to work out
            self._timer = self._loop.call_at(self._due, self._tick)
        else:
            self._timer = self._loop.call_later(self._due - self._clock(), self._tick)

    def _tick(self) -> None:
        self._timer = None
        try:
            self._send_frame()
        except Exception as error:  # the frame could not go: end run() with the cause
            if self._stopped is not None and not self._stopped.done():
                self._stopped.set_exception(error)
            return
        self._due += self._chunk_s
        if self._continuous or len(self._pending):
            self._arm()

    def _send_frame(self) -> None:
        # How late this frame leaves against its real-time schedule: the figure that shows
        # an overloaded process (every conversation in it shares one event loop).
        self._lateness_ms.append(max(0.0, (self._now() - self._due) * 1000 * self._speed))
        drained = False
        if len(self._pending):
            chunk, self._pending = self._pending[: self._chunk], self._pending[self._chunk :]
            if not len(self._pending):
                drained = True
                self._speech_end_ms = self._position_ms + len(chunk) * 1000 / self.rate
            if len(chunk) < self._chunk and self._continuous:
                chunk = np.concatenate((chunk, self._silence[: self._chunk - len(chunk)]))
        else:
            chunk = self._silence
        if self._line is not None:
            chunk = self._line(chunk)
        self._conversation.send_audio(chunk, rate=self.rate, channels=1)
        self._position_ms += len(chunk) * 1000 / self.rate
        if drained:
            self._drained.set()
