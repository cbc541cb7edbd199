"""The engine's two audio paths: microphone to wire, and wire to speaker.

Input: the caller states its rate and channel count (never guessed from a chunk's length); audio
is mixed down, resampled with one persistent soxr stream per source rate only when that rate is
not the wire rate, cut into append-sized chunks, and encoded (PCM16 or G.711).
Output: deltas are decoded synchronously, in arrival order — never in fire-and-forget tasks that
could reorder them — and resampled to the consumer's rate with one persistent stream.
"""

from __future__ import annotations

import base64

import numpy as np
from numpy.typing import NDArray

from actors.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from actors.audio.pcm import downmix_to_mono, pcm16_from_bytes, pcm16_to_bytes
from actors.audio.resample import StreamResampler
from actors.conversation.agent import AudioFormatConfig

__all__ = ["InputAudioPath", "OutputAudioPath"]

_EMPTY = np.zeros(0, dtype=np.int16)


def _encode(samples: NDArray[np.int16], encoding: str) -> bytes:
    if encoding == "pcmu":
        return mulaw_encode(samples)
    if encoding == "pcma":
        return alaw_encode(samples)
    return pcm16_to_bytes(samples)


def _decode(data: bytes, encoding: str) -> NDArray[np.int16]:
    if encoding == "pcmu":
        return mulaw_decode(data)
    if encoding == "pcma":
        return alaw_decode(data)
    return pcm16_from_bytes(data)


class InputAudioPath:
    """Microphone audio in any rate/channels → wire-rate chunks of ``chunk_ms``."""

    def __init__(self, wire: AudioFormatConfig, *, chunk_ms: int) -> None:
        self.wire = wire
        self.chunk_samples = wire.rate * chunk_ms // 1000
        self._resamplers: dict[int, StreamResampler] = {}
        self._pending = _EMPTY

    def push(self, samples: NDArray[np.int16], *, rate: int, channels: int) -> NDArray[np.int16]:
        """Convert caller audio to wire-rate mono; returns it (for recording) and buffers it."""
        mono = downmix_to_mono(samples, channels) if channels != 1 else samples
        if rate != self.wire.rate:
            resampler = self._resamplers.get(rate)
            if resampler is None:
                resampler = self._resamplers[rate] = StreamResampler(rate, self.wire.rate)
            mono = resampler.process(mono)
        if mono.size:
            self._pending = np.concatenate((self._pending, mono))
        return mono

    def take_chunks(self, *, final: bool = False) -> list[str]:
        """Base64 payloads of every complete chunk (and the remainder when ``final``)."""
        payloads: list[str] = []
        while len(self._pending) >= self.chunk_samples or (final and len(self._pending)):
            chunk, self._pending = (
                self._pending[: self.chunk_samples],
                self._pending[self.chunk_samples :],
            )
            payloads.append(base64.b64encode(_encode(chunk, self.wire.encoding)).decode("ascii"))
        return payloads


class OutputAudioPath:
    """Wire audio deltas → int16 mono at the consumer's rate, in order."""

    def __init__(self, wire: AudioFormatConfig, *, consumer_rate: int) -> None:
        self.wire = wire
        self.consumer_rate = consumer_rate
        self._resampler = StreamResampler(wire.rate, consumer_rate)

    def decode(self, delta_b64: str) -> tuple[NDArray[np.int16], float]:
        """The delta's audio at the consumer rate, and its duration in ms on the wire."""
        samples = _decode(base64.b64decode(delta_b64), self.wire.encoding)
        duration_ms = len(samples) * 1000 / self.wire.rate
        return self._resampler.process(samples), duration_ms

    def reset(self) -> None:
        """Forget filter state after playback was cleared (the next audio is a new stream)."""
        self._resampler = StreamResampler(self.wire.rate, self.consumer_rate)
