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
from voxray.actors.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from voxray.actors.audio.pcm import downmix_to_mono, pcm16_from_bytes, pcm16_to_bytes
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.conversation.agent import AudioFormatConfig

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


class _Gather:
    """Pieces of int16 audio joined only when taken: one concatenate per chunk, not per frame."""

    def __init__(self) -> None:
        self.pieces: list[NDArray[np.int16]] = []
        self.size = 0

    def add(self, samples: NDArray[np.int16]) -> None:
        if samples.size:
            self.pieces.append(samples)
            self.size += samples.size

    def take(self, count: int | None = None) -> NDArray[np.int16]:
        joined = self.pieces[0] if len(self.pieces) == 1 else np.concatenate(self.pieces)
        count = joined.size if count is None else count
        rest = joined[count:]
        self.pieces, self.size = ([rest], rest.size) if rest.size else ([], 0)
        return joined[:count]


class InputAudioPath:
    """Microphone audio in any rate/channels → wire-rate chunks of ``chunk_ms``."""

    def __init__(self, wire: AudioFormatConfig, *, chunk_ms: int) -> None:
        self.wire = wire
        self.chunk_ms = chunk_ms
        self.chunk_samples = wire.rate * chunk_ms // 1000
        self._resampler: StreamResampler | None = None
        self._unresampled = _Gather()
        self._pending = _Gather()

    def push(self, samples: NDArray[np.int16], *, rate: int, channels: int) -> NDArray[np.int16]:
        """Take caller audio; returns the wire-rate mono audio it yields now (for recording).

        Audio at another rate is gathered and resampled once per append-sized chunk: the
        append waits for a full chunk anyway, and one call per chunk instead of one per 20 ms
        frame divides the resampler's fixed per-call cost by five.
        """
        mono = downmix_to_mono(samples, channels) if channels != 1 else samples
        if rate != self.wire.rate:
            mono = self._resample(mono, rate)
        self._pending.add(mono)
        return mono

    def _resample(self, mono: NDArray[np.int16], rate: int) -> NDArray[np.int16]:
        if self._resampler is None or self._resampler.in_rate != rate:
            # A new source rate is a new stream; the old one's tail is negligible (< 1 ms).
            self._resampler = StreamResampler(rate, self.wire.rate)
            self._unresampled = _Gather()
        self._unresampled.add(mono)
        if self._unresampled.size * 1000 < rate * self.chunk_ms:
            return _EMPTY
        return self._resampler.process(self._unresampled.take())

    def take_chunks(self, *, final: bool = False) -> list[str]:
        """Base64 payloads of every complete chunk (and the remainder when ``final``)."""
        payloads: list[str] = []
        while self._pending.size >= self.chunk_samples or (final and self._pending.size):
            chunk = self._pending.take(min(self.chunk_samples, self._pending.size))
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
