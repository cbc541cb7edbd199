"""Plumbing shared by the condition stages: a stage, a fixed-size framer, a delay line.

A stage transforms a continuous float32 stream (full scale ±1) chunk by chunk and returns
exactly as many samples as it was given, so the microphone's timeline is never stretched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["DelayLine", "Framed", "Stage", "float_array"]

FloatArray = NDArray[np.float32]

logger = logging.getLogger("voxray.conditions")


def float_array(size: int = 0) -> FloatArray:
    """``size`` zeros, float32."""
    return np.zeros(size, dtype=np.float32)


class Stage(Protocol):
    """One transform of the caller's line; ``process`` returns ``len(samples)`` samples."""

    def process(self, samples: FloatArray) -> FloatArray: ...


class DelayLine:
    """A FIFO that hands out exactly as many samples as asked, primed with ``prime`` zeros.

    Stages whose inner work yields audio in bursts (a resampler) or only in whole frames push
    what they produce and pop what they owe; the priming absorbs the bursts. Should the FIFO
    ever run dry anyway, the gap is filled with silence (a hole in the caller's audio that no
    condition asked for), counted in :attr:`underruns` and logged as a warning the first time:
    the stage's priming is too short for its bursts.
    """

    def __init__(self, prime: int) -> None:
        self._prime = max(0, prime)
        self._buffer = float_array(self._prime)
        self.underruns = 0
        """Samples of silence inserted because the FIFO ran dry (0 when the priming holds)."""

    def push(self, samples: FloatArray) -> None:
        self._buffer = np.concatenate((self._buffer, samples)) if samples.size else self._buffer

    def pop(self, count: int) -> FloatArray:
        out, self._buffer = self._buffer[:count], self._buffer[count:]
        if out.size < count:
            gap = count - out.size
            if not self.underruns:
                logger.warning(
                    "a caller-condition stage ran dry: %d samples of silence inserted into the "
                    "caller's audio (its priming of %d samples is shorter than its bursts; "
                    "later gaps are counted, not logged)",
                    gap,
                    self._prime,
                )
            self.underruns += gap
            out = np.concatenate((float_array(gap), out))
        return out


class Framed:
    """Feeds a per-frame function fixed-size frames cut from chunks of any size.

    When chunks are whole multiples of the frame (the microphone's 20/100 ms chunks against a
    20 ms frame) there is no delay; otherwise (decided on the first chunk) the output lags by
    one frame so that it never runs dry.
    """

    def __init__(self, frame: int, on_frame: Callable[[FloatArray], FloatArray]) -> None:
        self.frame = frame
        self._on_frame = on_frame
        self._input = float_array()
        self._output: DelayLine | None = None

    def process(self, samples: FloatArray) -> FloatArray:
        if self._output is None:
            self._output = DelayLine(0 if samples.size % self.frame == 0 else self.frame)
        data = np.concatenate((self._input, samples)) if self._input.size else samples
        whole = data.size // self.frame
        for index in range(whole):
            self._output.push(self._on_frame(data[index * self.frame : (index + 1) * self.frame]))
        self._input = data[whole * self.frame :].copy()
        return self._output.pop(samples.size)
