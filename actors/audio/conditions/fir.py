"""Linear-phase FIR filters designed from a magnitude response, run on a stream.

Designed by frequency sampling: the wanted magnitude (dB at a few frequencies, interpolated
linearly in between) is laid on a fine FFT grid, turned into a symmetric impulse response and
windowed. numpy only: no scipy at run time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from voxray.actors.audio.conditions.stream import FloatArray, float_array

__all__ = ["StreamingFir", "design_fir"]

_GRID = 4096


def design_fir(response_db: Sequence[tuple[float, float]], rate: int, taps: int) -> FloatArray:
    """An odd-length linear-phase FIR whose magnitude follows ``response_db``.

    Args:
        response_db: ``(frequency_hz, gain_db)`` points, increasing in frequency; the gain is
            held flat before the first point and after the last.
        rate: sample rate in Hz.
        taps: filter length (made odd).
    """
    taps |= 1
    frequencies = np.linspace(0.0, rate / 2, _GRID // 2 + 1)
    points_hz = [point[0] for point in response_db]
    points_db = [point[1] for point in response_db]
    magnitude = 10.0 ** (np.interp(frequencies, points_hz, points_db) / 20.0)
    impulse = np.fft.irfft(magnitude, n=_GRID)
    # Zero phase → centred (linear phase), cut to `taps` and windowed against ripple.
    impulse = np.roll(impulse, taps // 2)[:taps] * np.blackman(taps)
    return impulse.astype(np.float32)


class StreamingFir:
    """Applies an FIR to a continuous stream, chunk by chunk with no seams between chunks.

    The output lags the input by the filter's group delay (``taps // 2`` samples):
    the first chunk starts with that much of the filter's ramp-up.
    """

    def __init__(self, coefficients: FloatArray) -> None:
        self._h = coefficients
        self._history = float_array(coefficients.size - 1)

    def process(self, samples: FloatArray) -> FloatArray:
        """The next ``samples.size`` filtered samples (the stream's history carried over)."""
        if not samples.size:
            return samples
        data = np.concatenate((self._history, samples))
        self._history = data[data.size - (self._h.size - 1) :]
        return np.convolve(data, self._h, mode="valid").astype(np.float32)
