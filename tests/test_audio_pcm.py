"""int16 PCM helpers, G.711 companding and framing."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray
from voxray.actors.audio import (
    alaw_decode,
    alaw_encode,
    downmix_to_mono,
    duration_ms,
    float_to_pcm16,
    frame_samples,
    iter_frames,
    mulaw_decode,
    mulaw_encode,
    pcm16_from_bytes,
    pcm16_to_bytes,
    pcm16_to_float,
    silence,
)
from voxray.actors.errors import AudioError

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)

Encode = Callable[[NDArray[np.int16]], bytes]
Decode = Callable[[bytes], NDArray[np.int16]]


def test_float_to_pcm16_saturates_instead_of_wrapping() -> None:
    x = np.array([1.0, 1.0001, 1.5, 1e6, np.inf, -1.0, -1.5, -1e6, -np.inf], dtype=np.float32)

    pcm = float_to_pcm16(x)

    assert pcm.dtype == np.int16
    assert pcm.tolist() == [32767] * 5 + [-32768] * 4


def test_float_to_pcm16_scales_and_rounds() -> None:
    x = np.array([0.0, 0.5, -0.5, 0.25, 1 / 32768, 0.4 / 32768], dtype=np.float64)

    assert float_to_pcm16(x).tolist() == [0, 16384, -16384, 8192, 1, 0]


def test_float_to_pcm16_turns_nan_into_silence() -> None:
    assert float_to_pcm16(np.array([np.nan, 0.5], dtype=np.float32)).tolist() == [0, 16384]


def test_int16_float_round_trip_is_exact() -> None:
    as_float = pcm16_to_float(ALL_INT16)

    assert as_float.dtype == np.float32
    assert as_float.min() == -1.0
    assert as_float.max() < 1.0
    np.testing.assert_array_equal(float_to_pcm16(as_float), ALL_INT16)


def test_pcm16_bytes_are_little_endian() -> None:
    samples = pcm16_from_bytes(b"\x01\x00\xff\xff\x00\x80\xff\x7f")

    assert samples.tolist() == [1, -1, -32768, 32767]
    assert pcm16_to_bytes(samples) == b"\x01\x00\xff\xff\x00\x80\xff\x7f"


def test_pcm16_from_bytes_returns_an_array_the_caller_can_modify() -> None:
    samples = pcm16_from_bytes(b"\x01\x00\x02\x00")

    samples[0] = 7

    assert samples.tolist() == [7, 2]


def test_pcm16_from_bytes_rejects_an_odd_byte_count() -> None:
    with pytest.raises(AudioError, match="odd byte count"):
        pcm16_from_bytes(b"\x01\x00\x02")


def test_downmix_averages_loud_channels_without_overflow() -> None:
    stereo = np.array([30000, 30000, 32767, 32767, -32768, -32768, 1000, 3000], dtype=np.int16)

    assert downmix_to_mono(stereo, 2).tolist() == [30000, 32767, -32768, 2000]


def test_downmix_cancels_opposite_phase_and_accepts_frames_by_channels() -> None:
    left = np.array([1000, -20000, 32767], dtype=np.int16)
    stereo = np.stack([left, -left], axis=1)

    assert downmix_to_mono(stereo, 2).tolist() == [0, 0, 0]


def test_downmix_of_many_channels() -> None:
    six = np.tile(np.array([6, 6, 6, 6, 6, 0], dtype=np.int16), 2)

    assert downmix_to_mono(six, 6).tolist() == [5, 5]


def test_downmix_mono_is_unchanged() -> None:
    mono = np.array([1, 2, 3], dtype=np.int16)

    np.testing.assert_array_equal(downmix_to_mono(mono, 1), mono)


@pytest.mark.parametrize(
    ("samples", "channels", "cause"),
    [
        (np.zeros(5, dtype=np.int16), 2, "not a whole number of frames"),
        (np.zeros((4, 3), dtype=np.int16), 2, "shaped"),
        (np.zeros(4, dtype=np.int16), 0, "at least one"),
    ],
)
def test_downmix_rejects_samples_that_do_not_match_the_channel_count(
    samples: NDArray[np.int16], channels: int, cause: str
) -> None:
    with pytest.raises(AudioError, match=cause):
        downmix_to_mono(samples, channels)


def test_duration_ms() -> None:
    assert duration_ms(480, 24000) == 20.0
    assert duration_ms(441, 22050) == 20.0
    with pytest.raises(AudioError):
        duration_ms(480, 0)


@pytest.mark.parametrize(
    ("encode", "decode"), [(mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)]
)
def test_g711_round_trip_keeps_the_signal(encode: Encode, decode: Decode) -> None:
    t = np.arange(8000) / 8000
    speech_like = (np.sin(2 * np.pi * 300 * t) * np.sin(2 * np.pi * 3 * t) * 30000).astype(np.int16)

    encoded = encode(speech_like)
    decoded = decode(encoded)

    assert isinstance(encoded, bytes)
    assert len(encoded) == speech_like.size
    assert decoded.dtype == np.int16
    # G.711 keeps a roughly constant relative error (≈ 38 dB SNR on speech-like signals).
    error = decoded.astype(np.float64) - speech_like
    snr_db = 10 * np.log10(np.sum(speech_like.astype(np.float64) ** 2) / np.sum(error**2))
    assert snr_db > 35
    # Re-encoding decoded audio is lossless: every code is a fixed point.
    np.testing.assert_array_equal(decode(encode(decoded)), decoded)
    # A seam or sign error would show as a gross mismatch, not as quantisation noise.
    assert np.max(np.abs(error)) < 0.04 * 30000


@pytest.mark.parametrize(
    ("encode", "decode"), [(mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)]
)
def test_g711_codes_are_fixed_points(encode: Encode, decode: Decode) -> None:
    codes = bytes(range(256))

    levels = decode(codes)

    np.testing.assert_array_equal(decode(encode(levels)), levels)
    assert levels.min() < -30000 < 30000 < levels.max()


def test_g711_matches_the_reference_codec_bit_for_bit() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    pcm = ALL_INT16.tobytes()
    codes = bytes(range(256))

    assert mulaw_encode(ALL_INT16) == audioop.lin2ulaw(pcm, 2)
    assert alaw_encode(ALL_INT16) == audioop.lin2alaw(pcm, 2)
    assert mulaw_decode(codes).tobytes() == audioop.ulaw2lin(codes, 2)
    assert alaw_decode(codes).tobytes() == audioop.alaw2lin(codes, 2)


def test_g711_refuses_samples_that_are_not_int16() -> None:
    with pytest.raises(AudioError, match="int16"):
        mulaw_encode(np.zeros(4, dtype=np.int32))


def test_frame_samples() -> None:
    assert frame_samples(24000, 20) == 480
    assert frame_samples(22050, 20) == 441
    assert frame_samples(8000, 10) == 80
    with pytest.raises(AudioError, match="whole number"):
        frame_samples(11025, 10)
    with pytest.raises(AudioError, match="positive"):
        frame_samples(24000, 0)


def test_iter_frames_pads_the_last_frame_with_silence() -> None:
    samples = np.arange(1, 1001, dtype=np.int16)

    frames = list(iter_frames(samples, 480))

    assert [f.size for f in frames] == [480, 480, 480]
    np.testing.assert_array_equal(np.concatenate(frames)[:1000], samples)
    assert not np.concatenate(frames)[1000:].any()


def test_iter_frames_whole_frames_and_empty_input() -> None:
    assert [f.size for f in iter_frames(np.ones(960, dtype=np.int16), 480)] == [480, 480]
    assert list(iter_frames(np.zeros(0, dtype=np.int16), 480)) == []
    with pytest.raises(AudioError):
        list(iter_frames(np.ones(4, dtype=np.int16), 0))


def test_iter_frames_keeps_channels_together() -> None:
    stereo = np.arange(10, dtype=np.int16).reshape(5, 2)

    frames = list(iter_frames(stereo, 2))

    assert [f.shape for f in frames] == [(2, 2), (2, 2), (2, 2)]
    assert frames[2].tolist() == [[8, 9], [0, 0]]


def test_silence() -> None:
    assert silence(3).tolist() == [0, 0, 0]
    assert silence(3).dtype == np.int16
    assert silence(2, channels=2).shape == (2, 2)
    assert silence(0).size == 0
