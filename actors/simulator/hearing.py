"""What the simulator heard in the user's audio turn: transcript text, final and partial.

With transcription active (:class:`~voxray.actors.simulator.transcription.Transcriber`) the turn's
audio is kept and decoded; otherwise the heard text is a placeholder stating the speech's
duration. Partial transcripts for ``...input_audio_transcription.updated`` are cumulative, like
xAI's, and due every ``_PARTIAL_MS`` of input audio (less often when really decoding, because a
partial re-decodes the turn so far).
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray
from voxray.actors.simulator.transcription import Transcriber, TurnAudio, heard_placeholder

__all__ = ["Hearing"]

_PARTIAL_MS: Final = 500.0
_DECODED_PARTIAL_MS: Final = 1000.0


class Hearing:
    """Keeps the audio of the turn in progress (when transcribing) and says what was heard."""

    def __init__(self, transcriber: Transcriber, rate: int) -> None:
        self._transcriber = transcriber
        self._audio = TurnAudio(rate)
        self._last_partial_ms = 0.0
        self._decoding: bool | None = None

    @property
    def decoding(self) -> bool:
        """Whether audio is really transcribed (asked once: it cannot change)."""
        if self._decoding is None:
            self._decoding = self._transcriber.active
        return self._decoding

    def reset(self, rate: int, position_ms: float) -> None:
        """Forget the turn's audio (a clear, or a new input format)."""
        if self.decoding:
            self._audio.reset(rate, position_ms)

    def listen(self, samples: NDArray[np.int16], position_ms: float) -> None:
        """Input audio that starts at ``position_ms`` on the input timeline."""
        if self.decoding:
            self._audio.append(samples, position_ms)

    def started(self, position_ms: float) -> None:
        """A speech segment opened: partials count from here."""
        self._last_partial_ms = position_ms

    async def heard(self, start_ms: float, end_ms: float, speech_ms: float) -> str:
        """The final text of the audio between two timeline positions."""
        if self.decoding:
            samples = self._audio.take(start_ms, end_ms)
            text = await self._transcriber.transcribe(samples, self._audio.rate)
            if text:
                return text
        return heard_placeholder(speech_ms)

    async def heard_in(self, samples: NDArray[np.int16], rate: int, duration_ms: float) -> str:
        """The text of a standalone clip (an ``input_audio`` content part)."""
        text = await self._transcriber.transcribe(samples, rate) if self.decoding else None
        return text or heard_placeholder(duration_ms)

    async def partial(self, start_ms: float, position_ms: float) -> str | None:
        """The cumulative transcript so far, when one is due; else None."""
        interval = _DECODED_PARTIAL_MS if self.decoding else _PARTIAL_MS
        if position_ms - self._last_partial_ms < interval:
            return None
        self._last_partial_ms = position_ms
        if self.decoding:
            text = await self._transcriber.transcribe(self._audio.peek(start_ms), self._audio.rate)
            if text:
                return text
        return heard_placeholder(max(0.0, position_ms - start_ms))
