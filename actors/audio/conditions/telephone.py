"""A telephone line: the caller's audio band-limited and squeezed through 8 kHz G.711.

What a PSTN call does to a voice: the handset and network pass roughly 300-3400 Hz (ITU-T
G.712), the trunk samples at 8 kHz and companding quantises each sample to 8 bits (μ-law in
North America and Japan, A-law elsewhere). The stage resamples to 8 kHz with soxr (its
anti-alias filter removes everything above 4 kHz), applies the 300-3400 Hz band-pass, round
trips through the codec and resamples back to the session's rate. The round trip delays the
audio by a few milliseconds, as a real line does.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from voxray.actors.audio.conditions.fir import StreamingFir, design_fir
from voxray.actors.audio.conditions.stream import DelayLine, FloatArray
from voxray.actors.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from voxray.actors.audio.pcm import float_to_pcm16, pcm16_to_float
from voxray.actors.audio.resample import StreamResampler

__all__ = ["TelephoneConfig", "TelephoneStage"]

_LINE_RATE = 8000
_TAPS = 101
_PRIME_MS = 30  # covers soxr's bursty output at the session's chunk sizes


class TelephoneConfig(BaseModel):
    """An 8 kHz G.711 phone line with the telephone band."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    codec: Literal["mulaw", "alaw"] = Field("mulaw", description="G.711 μ-law or A-law.")
    low_hz: float = Field(300.0, ge=0, le=1000, description="Lower edge of the band.")
    high_hz: float = Field(3400.0, ge=2000, le=3900, description="Upper edge of the band.")


class TelephoneStage:
    """Resample to 8 kHz, band-pass, G.711 round trip, resample back."""

    def __init__(self, config: TelephoneConfig, rate: int) -> None:
        self._down = StreamResampler(rate, _LINE_RATE)
        self._up = StreamResampler(_LINE_RATE, rate)
        edge = 150.0
        self._band = StreamingFir(
            design_fir(
                [
                    (max(0.0, config.low_hz - edge), -50.0),
                    (config.low_hz, -3.0),
                    (config.low_hz + edge, 0.0),
                    (config.high_hz - edge, 0.0),
                    (config.high_hz, -3.0),
                    (min(_LINE_RATE / 2, config.high_hz + 400.0), -50.0),
                ],
                _LINE_RATE,
                _TAPS,
            )
        )
        if config.codec == "mulaw":
            self._encode, self._decode = mulaw_encode, mulaw_decode
        else:
            self._encode, self._decode = alaw_encode, alaw_decode
        self._output = DelayLine(rate * _PRIME_MS // 1000)

    def process(self, samples: FloatArray) -> FloatArray:
        narrow = self._down.process(float_to_pcm16(samples))
        if narrow.size:
            banded = float_to_pcm16(self._band.process(pcm16_to_float(narrow)))
            line = self._decode(self._encode(banded))
            self._output.push(pcm16_to_float(np.ascontiguousarray(self._up.process(line))))
        return self._output.pop(samples.size)
