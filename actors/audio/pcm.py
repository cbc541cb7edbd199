"""Signed 16-bit PCM: conversion to and from float, bytes, mono, and durations.

The realtime wire format is little-endian int16 PCM, so every other representation in voxray
(float for DSP, interleaved multi-channel files, G.711 for telephony) converts through here.
"""

from __future__ import annotations

import sys

import numpy as np
from numpy.typing import NDArray
from voxray.actors.errors import AudioError

__all__ = [
    "PCM16_MAX",
    "PCM16_MIN",
    "downmix_to_mono",
    "duration_ms",
    "float_to_pcm16",
    "pcm16_from_bytes",
    "pcm16_to_bytes",
    "pcm16_to_float",
]

PCM16_MAX = 32767
"""Largest int16 sample value."""

PCM16_MIN = -32768
"""Smallest int16 sample value."""

# One scale factor both ways makes int16 -> float -> int16 exact; +1.0 maps to 32768, which
# the clip below turns into 32767.
_SCALE = 32768.0

# The wire is little-endian; on a big-endian host int16 bytes must be swapped.
_WIRE_DTYPE = np.dtype("<i2")
_NATIVE_IS_WIRE = sys.byteorder == "little"


def float_to_pcm16(x: NDArray[np.float32] | NDArray[np.float64]) -> NDArray[np.int16]:
    """Convert float samples in [-1, 1] to int16, saturating anything outside that range.

    Resampling overshoots full-scale input (Gibbs ringing), so values beyond ±1.0 are normal
    and must saturate rather than wrap around to the opposite sign. NaN becomes silence.
    """
    # Stays float32 for float32 input: float32 holds every int16 exactly, at half the cost.
    scaled = np.multiply(x, _SCALE)
    scaled[np.isnan(scaled)] = 0.0
    # fmax/fmin instead of np.clip: same result, a fraction of the per-call overhead, and
    # this runs on every 20 ms frame of every session.
    np.fmax(scaled, PCM16_MIN, out=scaled)
    np.fmin(scaled, PCM16_MAX, out=scaled)
    np.rint(scaled, out=scaled)
    return scaled.astype(np.int16)


def pcm16_to_float(x: NDArray[np.int16]) -> NDArray[np.float32]:
    """Convert int16 samples to float32 in [-1, 1); the inverse of :func:`float_to_pcm16`."""
    return np.multiply(x, np.float32(1.0 / _SCALE), dtype=np.float32)


def pcm16_from_bytes(data: bytes | bytearray | memoryview) -> NDArray[np.int16]:
    """Decode little-endian int16 PCM bytes into a new, writable array.

    Raises:
        AudioError: the byte count is odd, so the buffer cannot be whole int16 samples.
    """
    if len(data) % 2:
        raise AudioError(
            f"PCM16 buffer of {len(data)} bytes: odd byte count cannot hold int16 samples"
        )
    # frombuffer gives a read-only view of `data`; callers expect an array they own.
    return np.frombuffer(data, dtype=_WIRE_DTYPE).astype(np.int16)


def pcm16_to_bytes(samples: NDArray[np.int16]) -> bytes:
    """Encode int16 samples as little-endian PCM bytes (the realtime wire format)."""
    if _NATIVE_IS_WIRE:
        return samples.tobytes()
    return samples.astype(_WIRE_DTYPE).tobytes()


def downmix_to_mono(samples: NDArray[np.int16], channels: int) -> NDArray[np.int16]:
    """Average interleaved multi-channel int16 samples into one channel.

    ``channels`` is explicit because a sample count alone cannot tell stereo from mono.
    ``samples`` may be 1-D interleaved or 2-D shaped ``(frames, channels)``. Mono input is
    returned as is (a 1-D view).

    Raises:
        AudioError: ``channels`` is below 1, or the samples do not split into whole frames.
    """
    if channels < 1:
        raise AudioError(f"cannot downmix {channels} channels: need at least one")
    if samples.ndim == 2 and samples.shape[1] != channels:
        raise AudioError(f"cannot downmix samples shaped {samples.shape} as {channels} channels")
    flat = samples.reshape(-1)
    if flat.size % channels:
        raise AudioError(
            f"cannot downmix {flat.size} samples as {channels} channels: "
            "not a whole number of frames"
        )
    if channels == 1:
        return flat
    # Summing in int16 would overflow for loud stereo; int32 cannot, even for the 65535
    # channels a WAV header can declare.
    total: NDArray[np.int32] = flat.reshape(-1, channels).sum(axis=1, dtype=np.int32)
    # Round to nearest: plain floor division would pull every sample down by up to 1 LSB.
    mean: NDArray[np.int32] = (total + channels // 2) // channels
    return mean.astype(np.int16)


def duration_ms(n_samples: int, rate: int) -> float:
    """Duration in milliseconds of ``n_samples`` frames at ``rate`` Hz."""
    if rate <= 0:
        raise AudioError(f"sample rate must be positive, got {rate} Hz")
    return n_samples * 1000.0 / rate
