"""A low-quality microphone: its frequency response, too much gain, and clipping.

``response: cheap`` is the curve of an inexpensive headset or laptop electret capsule: little
below 200 Hz, a presence bump around 3 kHz, falling away above 5 kHz. ``gain_db`` is the input
gain (a caller too close, or automatic gain control turned up); anything then above
``clip_dbfs`` is flattened, as an overdriven preamp or converter does.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from voxray.actors.audio.conditions.fir import StreamingFir, design_fir
from voxray.actors.audio.conditions.stream import FloatArray

__all__ = ["CHEAP_RESPONSE_DB", "MicrophoneConfig", "MicrophoneStage"]

CHEAP_RESPONSE_DB = (
    (0.0, -40.0),
    (100.0, -24.0),
    (200.0, -10.0),
    (400.0, -2.0),
    (1000.0, 0.0),
    (3000.0, 5.0),
    (5000.0, 0.0),
    (7000.0, -18.0),
    (10000.0, -35.0),
)
"""(Hz, dB) points of the ``cheap`` response."""

_TAPS_PER_KHZ = 8  # ~0.33 ms of filter per kHz of rate: 193 taps at 24 kHz


class MicrophoneConfig(BaseModel):
    """A cheap microphone: response, gain, clipping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    response: Literal["flat", "cheap"] = Field("cheap", description="Frequency response.")
    gain_db: float = Field(0.0, ge=-40, le=40, description="Input gain before clipping.")
    clip_dbfs: float = Field(0.0, ge=-40, le=0, description="Level where the signal clips.")


class MicrophoneStage:
    """Filter, gain, hard clip."""

    def __init__(self, config: MicrophoneConfig, rate: int) -> None:
        self._filter = (
            StreamingFir(design_fir(CHEAP_RESPONSE_DB, rate, _TAPS_PER_KHZ * rate // 1000))
            if config.response == "cheap"
            else None
        )
        self._gain = np.float32(10.0 ** (config.gain_db / 20.0))
        self._clip = np.float32(10.0 ** (config.clip_dbfs / 20.0))

    def process(self, samples: FloatArray) -> FloatArray:
        shaped = self._filter.process(samples) if self._filter is not None else samples
        clipped: FloatArray = np.clip(shaped * self._gain, -self._clip, self._clip)
        return clipped
