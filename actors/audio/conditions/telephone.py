"""A telephone line: the caller's audio band-limited and squeezed through 8 kHz G.711.

What a PSTN call does to a voice: the handset and network pass roughly 300-3400 Hz (ITU-T
G.712), the trunk samples at 8 kHz and companding quantises each sample to 8 bits (μ-law in
North America and Japan, A-law elsewhere). The stage resamples to 8 kHz with soxr (its
anti-alias filter removes everything above 4 kHz), applies the 300-3400 Hz band-pass, round
trips through the codec and resamples back to the session's rate. soxr's streams hand their
output back in bursts, so the line owes up to ~130 ms (24 kHz) to ~320 ms (48 kHz) of audio at
times; the stage's output is primed with that much (measured per rate, once), so the caller's
audio is delayed by it, as on a long-distance line, and never drops out mid-call.
"""

from __future__ import annotations

import functools
from typing import Final, Literal

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
_PROBE_S: Final = 4
"""How long the resampler pair is run on silence to find the most it ever owes."""
_MARGIN_MS: Final = 5


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
        self._output = DelayLine(_held_back(rate) + rate * _MARGIN_MS // 1000)

    def process(self, samples: FloatArray) -> FloatArray:
        narrow = self._down.process(float_to_pcm16(samples))
        if narrow.size:
            banded = float_to_pcm16(self._band.process(pcm16_to_float(narrow)))
            line = self._decode(self._encode(banded))
            self._output.push(pcm16_to_float(np.ascontiguousarray(self._up.process(line))))
        return self._output.pop(samples.size)


@functools.lru_cache(maxsize=8)
def _held_back(rate: int) -> int:
    """The most samples the down/up resampler pair owes at any point of a stream at ``rate``.

    soxr returns a stream's output in bursts (per block of its filter, whatever the chunk
    size), so after some chunks fewer samples have come out than went in; a line primed with
    less runs dry and leaves a hole in the caller's audio. Found by running a pair on silence
    (soxr is deterministic): 20 ms chunks, as the microphones send.
    """
    down, up = StreamResampler(rate, _LINE_RATE), StreamResampler(_LINE_RATE, rate)
    chunk = np.zeros(rate // 50, dtype=np.int16)
    fed = produced = worst = 0
    for _ in range(_PROBE_S * 50):
        fed += chunk.size
        narrow = down.process(chunk)
        if narrow.size:
            produced += up.process(narrow).size
        worst = max(worst, fed - produced)
    return worst
