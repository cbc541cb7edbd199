"""The engine's two audio paths: microphone to wire, and wire to speaker.

Input: the caller states its rate and channel count (never guessed from a chunk's length); audio
is mixed down, resampled with one persistent soxr stream per source rate only when that rate is
not the wire rate, encoded (PCM16 or G.711) and cut into append-sized chunks of raw codec bytes,
which the transport sends as base64 in JSON or as binary websocket frames.
Output: deltas arrive decoded from base64 once, at the edge (or raw, from binary frames); they
are turned into samples synchronously, in arrival order — never in fire-and-forget tasks that
could reorder them. PCM at the consumer's rate is a view over the delta's bytes, not a copy.

Telephone passthrough (a caller on a phone line, the session's formats ``pcmu``/``pcma``, G.711
at 8 kHz): a caller that holds μ-law bytes already — a Twilio media frame, say — hands them to
:meth:`InputAudioPath.push_encoded` (``Conversation.send_encoded_audio``) and they go to the wire
as they came: no decode, resample or re-encode. On the way out, every ``AgentAudio`` event
carries ``encoded``, the delta's bytes exactly as the provider sent them (μ-law to forward to the
phone line untouched); a G.711 output is never resampled: its samples are the 8 kHz decode
(``rate`` 8000). The recording stores both sides as they crossed the wire and decodes and
resamples them once, at the end.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from voxray.actors.audio.pcm import downmix_to_mono, pcm16_to_bytes
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.conversation.agent import AudioFormatConfig
from voxray.actors.errors import AudioError

__all__ = ["InputAudioPath", "OutputAudioPath", "decode_wire", "sample_bytes"]

_EMPTY = np.zeros(0, dtype=np.int16)
_PCM16_LE = np.dtype("<i2")


def sample_bytes(encoding: str) -> int:
    """Bytes per sample of a wire encoding: 2 for PCM16, 1 for G.711."""
    return 2 if encoding == "pcm" else 1


def _encode(samples: NDArray[np.int16], encoding: str) -> bytes:
    if encoding == "pcmu":
        return mulaw_encode(samples)
    if encoding == "pcma":
        return alaw_encode(samples)
    return pcm16_to_bytes(samples)


def decode_wire(data: bytes, encoding: str) -> NDArray[np.int16]:
    """Wire bytes as int16 samples; PCM16 is a read-only view over ``data``, not a copy."""
    if encoding == "pcmu":
        return mulaw_decode(data)
    if encoding == "pcma":
        return alaw_decode(data)
    if len(data) % 2:
        raise AudioError(f"PCM16 audio of {len(data)} bytes: an odd count is not whole samples")
    samples: NDArray[np.int16] = np.frombuffer(data, dtype=_PCM16_LE)
    return samples


class _Gather:
    """Pieces of int16 audio joined only when taken: one concatenate per chunk, not per frame."""

    def __init__(self) -> None:
        self.pieces: list[NDArray[np.int16]] = []
        self.size = 0

    def add(self, samples: NDArray[np.int16]) -> None:
        if samples.size:
            self.pieces.append(samples)
            self.size += samples.size

    def take(self) -> NDArray[np.int16]:
        joined = self.pieces[0] if len(self.pieces) == 1 else np.concatenate(self.pieces)
        self.pieces, self.size = [], 0
        return joined


class InputAudioPath:
    """Microphone audio in any rate/channels (or wire bytes) → append chunks of ``chunk_ms``."""

    def __init__(self, wire: AudioFormatConfig, *, chunk_ms: int) -> None:
        self.wire = wire
        self.chunk_ms = chunk_ms
        self.sample_bytes = sample_bytes(wire.encoding)
        self.chunk_bytes = wire.rate * chunk_ms // 1000 * self.sample_bytes
        self._resampler: StreamResampler | None = None
        self._unresampled = _Gather()
        # Wire bytes not sent yet, joined only when a chunk is taken: at 20 ms appends the
        # usual chunk is one frame's bytes, handed on without a copy.
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def push(self, samples: NDArray[np.int16], *, rate: int, channels: int) -> bytes:
        """Take caller audio; returns the wire bytes it yields now (what the recording keeps).

        Audio at another rate is gathered and resampled once per append-sized chunk: the
        append waits for a full chunk anyway, and one call per chunk instead of one per 20 ms
        frame divides the resampler's fixed per-call cost by five.
        """
        mono = downmix_to_mono(samples, channels) if channels != 1 else samples
        if rate != self.wire.rate:
            mono = self._resample(mono, rate)
            if not mono.size:
                return b""
        encoded = _encode(mono, self.wire.encoding)
        self._pending.append(encoded)
        self._pending_bytes += len(encoded)
        return encoded

    def push_encoded(self, data: bytes) -> None:
        """Take audio already in the wire's encoding and rate (telephone passthrough).

        Raises:
            AudioError: PCM16 bytes of an odd count (not whole samples).
        """
        if len(data) % self.sample_bytes:
            raise AudioError(
                f"{self.wire.encoding} audio of {len(data)} bytes is not whole "
                f"{self.sample_bytes}-byte samples"
            )
        if data:
            self._pending.append(bytes(data))
            self._pending_bytes += len(data)

    def _resample(self, mono: NDArray[np.int16], rate: int) -> NDArray[np.int16]:
        if self._resampler is None or self._resampler.in_rate != rate:
            # A new source rate is a new stream; the old one's tail is negligible (< 1 ms).
            self._resampler = StreamResampler(rate, self.wire.rate)
            self._unresampled = _Gather()
        self._unresampled.add(mono)
        if self._unresampled.size * 1000 < rate * self.chunk_ms:
            return _EMPTY
        return self._resampler.process(self._unresampled.take())

    def take_chunks(self, *, final: bool = False) -> list[bytes]:
        """The wire bytes of every complete chunk (and the remainder when ``final``)."""
        size = self.chunk_bytes
        available = self._pending_bytes
        if available < size and not (final and available):
            return []
        pending = self._pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        end = available if final else available - available % size
        # A whole-bytes slice is the object itself: no copy for a chunk that is one frame.
        chunks = [data[start : min(start + size, end)] for start in range(0, end, size)]
        rest = data[end:]
        self._pending = [rest] if rest else []
        self._pending_bytes = len(rest)
        return chunks


class OutputAudioPath:
    """Wire audio deltas → int16 mono for consumers, in order.

    PCM is handed out at ``consumer_rate`` (resampled with one persistent stream only when the
    wire rate differs); G.711 is handed out at its own 8 kHz, never resampled (telephone
    passthrough: the consumer forwards ``encoded`` bytes, the samples are for listening).
    """

    def __init__(self, wire: AudioFormatConfig, *, consumer_rate: int) -> None:
        self.wire = wire
        self.consumer_rate = consumer_rate if wire.encoding == "pcm" else wire.rate
        self.bytes_per_ms = wire.rate * sample_bytes(wire.encoding) / 1000
        self._resampler = StreamResampler(wire.rate, self.consumer_rate)

    def decode(self, encoded: bytes) -> NDArray[np.int16]:
        """The delta's audio at the consumer rate (may be empty while the resampler fills)."""
        samples = decode_wire(encoded, self.wire.encoding)
        if self._resampler.passthrough:
            return samples
        return self._resampler.process(samples)

    def reset(self) -> None:
        """Forget filter state after playback was cleared (the next audio is a new stream)."""
        self._resampler = StreamResampler(self.wire.rate, self.consumer_rate)
