"""The noise floor under a voice: minimum statistics of smoothed frame energy.

Frame energies are smoothed (a running mean, 20 ms time constant); the floor is the lowest
smoothed energy over the last 5 s (twenty blocks of 250 ms, blocks aligned on the absolute frame
index so the result does not depend on how the audio was chunked), raised by 3 dB because the
minimum of a fluctuating noise sits below its mean. Speech has gaps between words, so the
floor follows the noise and not the voice (R. Martin, "Noise power spectral density estimation
based on optimal smoothing and minimum statistics", 2001, in its simplest form).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from numpy.typing import NDArray

__all__ = ["NoiseFloor"]

_SMOOTH_TAU_MS = 20.0
_BLOCK_FRAMES = 25
_BLOCKS = 20
_MIN_BIAS = 10.0 ** (3.0 / 10.0)
_STABLE_BLOCK = 256  # frames per closed-form step, far from float64 overflow


class NoiseFloor:
    """Per-frame noise floor estimates of a stream of frame energies."""

    def __init__(self, frame_ms: int, first_frame: int = 0) -> None:
        self._alpha = 1.0 - math.exp(-frame_ms / _SMOOTH_TAU_MS)
        self._smooth: float | None = None  # starts at the first frame's energy: no ramp
        self._frame = first_frame
        self._block_min = math.inf
        self._minima: deque[float] = deque(maxlen=_BLOCKS)

    def _smoothed(self, energy: NDArray[np.float64]) -> NDArray[np.float64]:
        """Running mean of ``energy`` continuing from the last call (vectorised)."""
        out = np.empty_like(energy)
        if self._smooth is None and energy.size:
            self._smooth = float(energy[0])
        smooth = self._smooth or 0.0
        decay = 1.0 - self._alpha
        for start in range(0, energy.size, _STABLE_BLOCK):
            part = energy[start : start + _STABLE_BLOCK]
            grow = decay ** -np.arange(1, part.size + 1, dtype=np.float64)
            shrink = decay ** np.arange(1, part.size + 1, dtype=np.float64)
            values = shrink * (smooth + self._alpha * np.cumsum(part * grow / decay))
            out[start : start + part.size] = values
            smooth = float(values[-1])
        self._smooth = smooth
        return out

    def floors(self, energy: NDArray[np.float32]) -> NDArray[np.float64]:
        """The floor in force at each of these frames (from the frames before it)."""
        smoothed = self._smoothed(energy.astype(np.float64))
        floors = np.empty_like(smoothed)
        position = 0
        while position < smoothed.size:
            room = _BLOCK_FRAMES - self._frame % _BLOCK_FRAMES
            part = smoothed[position : position + room]
            window = min(self._minima, default=math.inf)
            running = np.minimum.accumulate(np.concatenate(([self._block_min], part)))
            before = np.minimum(running[:-1], window)
            floors[position : position + part.size] = np.where(
                np.isfinite(before), before * _MIN_BIAS, 0.0
            )
            self._block_min = float(running[-1])
            self._frame += part.size
            position += part.size
            if self._frame % _BLOCK_FRAMES == 0:
                self._minima.append(self._block_min)
                self._block_min = math.inf
        return floors
