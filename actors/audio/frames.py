"""Cutting audio into fixed-duration frames for paced streaming.

Every frame from :func:`iter_frames` has the same length, the last one padded with silence:
a sender that sleeps one frame duration per frame then keeps real-time pace without
special-casing the tail, and the padding is at most one frame of trailing silence.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from voxray.actors.errors import AudioError

__all__ = ["frame_samples", "iter_frames", "silence"]

_S = TypeVar("_S", bound=np.generic)


def frame_samples(rate: int, frame_ms: int) -> int:
    """Number of samples (per channel) in one ``frame_ms`` frame at ``rate`` Hz.

    Raises:
        AudioError: the rate or duration is not positive, or the frame would not be a whole
            number of samples (pacing would drift by the fraction on every frame).
    """
    if rate <= 0 or frame_ms <= 0:
        raise AudioError(f"frame of {frame_ms} ms at {rate} Hz: both must be positive")
    n, remainder = divmod(rate * frame_ms, 1000)
    if remainder:
        raise AudioError(
            f"frame of {frame_ms} ms at {rate} Hz is {rate * frame_ms / 1000} samples, "
            "not a whole number"
        )
    return n


def iter_frames(samples: NDArray[_S], frame_len: int) -> Iterator[NDArray[_S]]:
    """Yield consecutive ``frame_len``-sample frames along the first axis of ``samples``.

    Frames are views into ``samples`` except the last partial one, which is a copy padded
    with zeros (silence) to ``frame_len``. Empty input yields nothing. A 2-D
    ``(frames, channels)`` array is cut along frames, keeping channels together.

    Raises:
        AudioError: ``frame_len`` is not positive.
    """
    if frame_len <= 0:
        raise AudioError(f"frame length must be positive, got {frame_len} samples")
    total = samples.shape[0]
    whole = total - total % frame_len
    for start in range(0, whole, frame_len):
        yield samples[start : start + frame_len]
    if whole < total:
        tail = np.zeros((frame_len, *samples.shape[1:]), dtype=samples.dtype)
        tail[: total - whole] = samples[whole:]
        yield tail


def silence(n: int, channels: int = 1) -> NDArray[np.int16]:
    """``n`` frames of int16 silence: 1-D for mono, ``(n, channels)`` otherwise."""
    if n < 0:
        raise AudioError(f"cannot make {n} samples of silence")
    if channels == 1:
        return np.zeros(n, dtype=np.int16)
    return np.zeros((n, channels), dtype=np.int16)
