"""Streaming sample-rate conversion of int16 PCM with soxr.

Resampling each 20 ms frame on its own restarts the filter at every frame edge and leaves an
audible click 50 times a second. :class:`StreamResampler` keeps one ``soxr.ResampleStream``
per stream, so the filter state carries across frames and the chunked output equals the
whole-signal output.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import soxr
from numpy.typing import NDArray
from voxray.actors.errors import AudioError

__all__ = ["ResampleQuality", "StreamResampler"]

ResampleQuality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]
"""soxr quality presets, from quick (no anti-alias filter) to very high."""

_EMPTY = np.zeros(0, dtype=np.int16)


def _saturate(scaled: NDArray[np.float32]) -> NDArray[np.int16]:
    """float32 at int16 scale -> int16, saturating: the filter rings past full scale on loud
    input, and a 1.05 peak must become 32767, never wrap to a negative peak. Unlike
    float_to_pcm16 it skips the NaN scan (soxr cannot make NaN from int16 input): this runs on
    every frame."""
    np.fmax(scaled, -32768.0, out=scaled)
    np.fmin(scaled, 32767.0, out=scaled)
    np.rint(scaled, out=scaled)
    return scaled.astype(np.int16)


class StreamResampler:
    """Resample one continuous int16 stream, frame by frame, without seams.

    Input and output are 1-D: mono, or interleaved when ``channels`` > 1. The output is
    time-aligned with the input (soxr compensates its own filter delay), but it arrives in
    bursts: with the ``HQ`` filter a 20 ms input frame may yield no samples and the next one
    two frames' worth. Call :meth:`flush` at the end of the stream to get the tail.

    Not thread-safe: one instance per stream.
    """

    def __init__(
        self,
        in_rate: int,
        out_rate: int,
        *,
        channels: int = 1,
        quality: ResampleQuality = "HQ",
    ) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise AudioError(f"cannot resample {in_rate} Hz -> {out_rate} Hz: rates must be > 0")
        if channels < 1:
            raise AudioError(f"cannot resample {channels} channels: need at least one")
        if quality not in get_args(ResampleQuality):
            raise AudioError(
                f"unknown resample quality {quality!r}; use one of {get_args(ResampleQuality)}"
            )
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels
        self.quality = quality
        self._stream: soxr.ResampleStream | None = None
        if in_rate != out_rate:
            self._stream = soxr.ResampleStream(
                in_rate, out_rate, channels, dtype="float32", quality=quality
            )

    @property
    def passthrough(self) -> bool:
        """True when the rates match and :meth:`process` returns its input unchanged."""
        return self._stream is None

    def process(self, samples: NDArray[np.int16]) -> NDArray[np.int16]:
        """Resample the next chunk of the stream; may return fewer samples, or none.

        Raises:
            AudioError: the samples are not 1-D int16 or not a whole number of frames.
        """
        self._check(samples)
        if self._stream is None:
            return samples
        return self._run(samples, last=False)

    def flush(self) -> NDArray[np.int16]:
        """End the stream and return the samples still held in the filter.

        The resampler is ready for a new, unrelated stream afterwards.
        """
        if self._stream is None:
            return _EMPTY.copy()
        tail = self._run(_EMPTY, last=True)
        self._stream.clear()
        return tail

    def reset(self) -> None:
        """Drop any buffered input and start a new stream (e.g. after a barge-in)."""
        if self._stream is not None:
            self._stream.clear()

    def _run(self, samples: NDArray[np.int16], *, last: bool) -> NDArray[np.int16]:
        assert self._stream is not None
        # The filter is linear, so it runs on the samples at int16 scale: no scaling to [-1, 1)
        # and back (a power of two, so the result is bit for bit the same, a multiply cheaper).
        x = samples.astype(np.float32)
        if self.channels > 1:
            x = x.reshape(-1, self.channels)
        y: NDArray[np.float32] = self._stream.resample_chunk(x, last=last)
        return _saturate(y.reshape(-1))

    def _check(self, samples: NDArray[np.int16]) -> None:
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise AudioError(
                f"resampler takes 1-D int16 samples, got {samples.dtype} shaped {samples.shape}"
            )
        if samples.size % self.channels:
            raise AudioError(
                f"resampler got {samples.size} samples: not a whole number of "
                f"{self.channels}-channel frames"
            )
