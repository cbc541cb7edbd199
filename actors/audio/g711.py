"""G.711 μ-law and A-law companding between int16 PCM and one byte per sample.

Telephony bridges speak G.711 at 8 kHz. Both directions are table lookups: the tables are
built once at import from the ITU-T segment rules (the same bit-exact variant as the stdlib's
former ``audioop``), so encoding a 20 ms frame is one fancy-index and no Python loop.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from voxray.actors.errors import AudioError

__all__ = ["alaw_decode", "alaw_encode", "mulaw_decode", "mulaw_encode"]

_QUANT_MASK = 0x0F
_SEG_SHIFT = 4
_SEG_MASK = 0x70
_SIGN_BIT = 0x80

_MULAW_BIAS = 0x84
_MULAW_CLIP = 8159  # largest 14-bit magnitude μ-law encodes before saturating
_MULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])

# Every int16 value, ordered by its uint16 bit pattern, so a table is indexed by
# `samples.view(np.uint16)` without an offset add.
_ALL_PCM16 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.int16)
_ALL_CODES = np.arange(256, dtype=np.int32)


def _build_mulaw_encode() -> NDArray[np.uint8]:
    x = _ALL_PCM16.astype(np.int32) >> 2  # μ-law works on 14-bit magnitudes
    mask = np.where(x < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(x), _MULAW_CLIP) + (_MULAW_BIAS >> 2)
    segment = np.searchsorted(_MULAW_SEG_END, magnitude, side="left")
    quant = (magnitude >> (np.minimum(segment, 7) + 1)) & _QUANT_MASK
    code = np.where(segment >= 8, 0x7F, (segment << _SEG_SHIFT) | quant)
    return (code ^ mask).astype(np.uint8)


def _build_mulaw_decode() -> NDArray[np.int16]:
    u = ~_ALL_CODES & 0xFF
    t = ((u & _QUANT_MASK) << 3) + _MULAW_BIAS
    t <<= (u & _SEG_MASK) >> _SEG_SHIFT
    return np.where(u & _SIGN_BIT, _MULAW_BIAS - t, t - _MULAW_BIAS).astype(np.int16)


def _build_alaw_encode() -> NDArray[np.uint8]:
    x = _ALL_PCM16.astype(np.int32) >> 3  # A-law works on 13-bit magnitudes
    mask = np.where(x >= 0, 0xD5, 0x55)
    magnitude = np.where(x >= 0, x, -x - 1)
    segment = np.searchsorted(_ALAW_SEG_END, magnitude, side="left")
    shift = np.where(segment < 2, 1, np.minimum(segment, 7))
    quant = (magnitude >> shift) & _QUANT_MASK
    code = np.where(segment >= 8, 0x7F, (segment << _SEG_SHIFT) | quant)
    return (code ^ mask).astype(np.uint8)


def _build_alaw_decode() -> NDArray[np.int16]:
    a = _ALL_CODES ^ 0x55
    segment = (a & _SEG_MASK) >> _SEG_SHIFT
    t = ((a & _QUANT_MASK) << 4) + np.where(segment == 0, 8, 0x108)
    t <<= np.maximum(segment - 1, 0)
    return np.where(a & _SIGN_BIT, t, -t).astype(np.int16)


_MULAW_ENCODE = _build_mulaw_encode()
_MULAW_DECODE = _build_mulaw_decode()
_ALAW_ENCODE = _build_alaw_encode()
_ALAW_DECODE = _build_alaw_decode()


def _table_index(samples: NDArray[np.int16]) -> NDArray[np.uint16]:
    # Reinterpreting any other dtype as uint16 would silently encode garbage.
    if samples.dtype != np.int16:
        raise AudioError(f"G.711 encodes int16 PCM, got {samples.dtype} samples")
    return samples.view(np.uint16)


def mulaw_encode(samples: NDArray[np.int16]) -> bytes:
    """Encode int16 PCM as G.711 μ-law, one byte per sample."""
    return _MULAW_ENCODE[_table_index(samples)].tobytes()


def mulaw_decode(data: bytes | bytearray | memoryview) -> NDArray[np.int16]:
    """Decode G.711 μ-law bytes into int16 PCM."""
    return _MULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(samples: NDArray[np.int16]) -> bytes:
    """Encode int16 PCM as G.711 A-law, one byte per sample."""
    return _ALAW_ENCODE[_table_index(samples)].tobytes()


def alaw_decode(data: bytes | bytearray | memoryview) -> NDArray[np.int16]:
    """Decode G.711 A-law bytes into int16 PCM."""
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]
