"""How much of some input audio is sound rather than silence: what a replay compares.

A scripted caller's microphone never stops (silence between utterances), so the raw length of
the input audio before a frame depends on timing: a slower tool, a later reply, and more
silence goes up. The speech does not. :func:`voiced_bytes` counts the bytes of the 20 ms
windows whose peak reaches :data:`VOICED_PEAK` (about -36 dBFS), so two clients that said the
same thing, chunked differently and padded with different lengths of silence, measure alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio.g711 import alaw_decode, mulaw_decode

__all__ = ["VOICED_PEAK", "VoicedMeter"]

VOICED_PEAK: Final = 500
"""A 20 ms window with a sample at or above this (PCM16 units) is voiced (≈ -36 dBFS)."""
_WINDOW_S: Final = 0.02


class VoicedMeter:
    """Measures voiced input audio in one wire format (``session.audio.input.format``)."""

    def __init__(self, input_format: Mapping[str, Any] | None) -> None:
        kind = str((input_format or {}).get("type", "audio/pcm"))
        default_rate = 24_000 if kind == "audio/pcm" else 8_000
        rate = int((input_format or {}).get("rate", default_rate))
        self._kind = kind
        self._bytes_per_sample = 2 if kind == "audio/pcm" else 1
        self._window = max(1, int(rate * _WINDOW_S))

    def _samples(self, audio: bytes) -> NDArray[np.int16]:
        if self._kind == "audio/pcmu":
            return mulaw_decode(audio)
        if self._kind == "audio/pcma":
            return alaw_decode(audio)
        usable = len(audio) - len(audio) % 2
        return np.frombuffer(audio[:usable], dtype="<i2")

    def voiced_bytes(self, audio: bytes) -> int:
        """Bytes of ``audio`` in voiced 20 ms windows (a last partial window counts pro rata)."""
        samples = self._samples(audio)
        if samples.size == 0:
            return 0
        window = self._window
        whole = samples.size // window * window
        peaks = np.abs(samples.astype(np.int32))
        voiced = 0
        if whole:
            loud = peaks[:whole].reshape(-1, window).max(axis=1) >= VOICED_PEAK
            voiced += int(np.count_nonzero(loud)) * window
        if whole < samples.size and peaks[whole:].max() >= VOICED_PEAK:
            voiced += samples.size - whole
        return voiced * self._bytes_per_sample
