"""Wire audio codecs of a session: bytes in the configured format <-> int16 mono samples."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from voxray.actors.audio.pcm import pcm16_from_bytes, pcm16_to_bytes
from voxray.actors.errors import AudioError
from voxray.actors.realtime.session_params import AudioFormat

__all__ = ["DEFAULT_FORMAT", "SUPPORTED_TYPES", "WireCodec"]

DEFAULT_FORMAT: Final = AudioFormat(type="audio/pcm", rate=24000)
"""PCM16 at 24 kHz: the protocol's default in both directions."""

_NATIVE_LITTLE: Final = sys.byteorder == "little"

SUPPORTED_TYPES: Final = frozenset({"audio/pcm", "audio/pcmu", "audio/pcma"})
"""Formats the simulator speaks; Opus is not implemented."""


@dataclass(frozen=True)
class WireCodec:
    """Encodes and decodes one audio format (``audio/pcm`` at its rate, or G.711 at 8 kHz)."""

    type: str
    rate: int

    @classmethod
    def of(cls, fmt: AudioFormat | None) -> WireCodec:
        """The codec of ``fmt`` (None means the default PCM 24 kHz).

        Raises:
            AudioError: the format is one the simulator does not implement (Opus).
        """
        fmt = fmt or DEFAULT_FORMAT
        if fmt.type not in SUPPORTED_TYPES:
            raise AudioError(f"the simulator does not implement {fmt.type}")
        return cls(type=fmt.type, rate=fmt.sample_rate_hz)

    @property
    def bytes_per_sample(self) -> int:
        """2 for PCM16, 1 for G.711."""
        return 2 if self.type == "audio/pcm" else 1

    def duration_ms(self, n_bytes: int) -> float:
        """Audio duration of ``n_bytes`` of encoded audio."""
        return n_bytes / self.bytes_per_sample * 1000.0 / self.rate

    def decode(self, data: bytes) -> NDArray[np.int16]:
        """Encoded bytes -> int16 samples at :attr:`rate` (PCM: a read-only view of ``data``).

        Raises:
            AudioError: PCM data with an odd byte count.
        """
        if self.type == "audio/pcmu":
            return mulaw_decode(data)
        if self.type == "audio/pcma":
            return alaw_decode(data)
        if _NATIVE_LITTLE and isinstance(data, bytes) and len(data) % 2 == 0:
            return np.frombuffer(data, dtype=np.int16)  # no copy on the hot path
        return pcm16_from_bytes(data)

    def encode(self, samples: NDArray[np.int16]) -> bytes:
        """int16 samples at :attr:`rate` -> encoded bytes."""
        if self.type == "audio/pcmu":
            return mulaw_encode(samples)
        if self.type == "audio/pcma":
            return alaw_encode(samples)
        if samples.dtype != np.int16:
            raise AudioError(f"PCM16 encodes int16 samples, got {samples.dtype}")
        return pcm16_to_bytes(samples)
