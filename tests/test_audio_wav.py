"""WAV files: round trips, other PCM widths, and every way a file can be unreadable."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from voxray.actors.audio import WavAudio, read_wav, stereo_interleave, write_wav
from voxray.actors.errors import AudioError


def ramp(n: int) -> NDArray[np.int16]:
    return np.linspace(-32768, 32767, n).astype(np.int16)


def write_raw_wav(path: Path, frames: bytes, *, width: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(16000)
        writer.writeframes(frames)


def test_mono_round_trip_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "a" / "user.wav"
    samples = ramp(24000)

    write_wav(path, samples, 24000)
    audio = read_wav(path)

    assert (audio.rate, audio.channels, audio.samples.shape) == (24000, 1, (24000, 1))
    np.testing.assert_array_equal(audio.interleaved, samples)
    assert audio.duration_s == 1.0


def test_stereo_round_trip_from_frames_or_interleaved(tmp_path: Path) -> None:
    frames = np.stack([ramp(1000), ramp(1000)[::-1]], axis=1)

    write_wav(tmp_path / "frames.wav", frames, 16000, channels=2)
    write_wav(tmp_path / "flat.wav", frames.reshape(-1), 16000, channels=2)

    for name in ("frames.wav", "flat.wav"):
        audio = read_wav(str(tmp_path / name))
        assert audio.channels == 2
        np.testing.assert_array_equal(audio.samples, frames)


def test_overwriting_leaves_no_temporary_files(tmp_path: Path) -> None:
    write_wav(tmp_path / "x.wav", ramp(100), 8000)
    write_wav(tmp_path / "x.wav", ramp(50), 8000)

    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]
    assert read_wav(tmp_path / "x.wav").frames == 50


def test_mono_downmixes_stereo(tmp_path: Path) -> None:
    left = np.full(10, 1000, dtype=np.int16)
    right = np.full(10, 3000, dtype=np.int16)
    write_wav(tmp_path / "s.wav", stereo_interleave(left, right), 8000, channels=2)

    mono = read_wav(tmp_path / "s.wav").mono()

    assert (mono.channels, mono.rate) == (1, 8000)
    assert mono.interleaved.tolist() == [2000] * 10


def test_8_bit_pcm_is_widened(tmp_path: Path) -> None:
    write_raw_wav(tmp_path / "u8.wav", bytes([0, 128, 255]), width=1)

    assert read_wav(tmp_path / "u8.wav").interleaved.tolist() == [-32768, 0, 32512]


def test_24_bit_pcm_keeps_its_top_16_bits(tmp_path: Path) -> None:
    values = [-(2**23), -1, 0, 0x123456, 2**23 - 1]
    raw = b"".join(v.to_bytes(3, "little", signed=True) for v in values)
    write_raw_wav(tmp_path / "s24.wav", raw, width=3)

    assert read_wav(tmp_path / "s24.wav").interleaved.tolist() == [-32768, -1, 0, 0x1234, 32767]


def test_32_bit_pcm_keeps_its_top_16_bits(tmp_path: Path) -> None:
    raw = struct.pack("<4i", -(2**31), 0, 0x12345678, 2**31 - 1)
    write_raw_wav(tmp_path / "s32.wav", raw, width=4, channels=2)

    audio = read_wav(tmp_path / "s32.wav")

    assert audio.samples.tolist() == [[-32768, 0], [0x1234, 32767]]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"

    with pytest.raises(AudioError, match="no such file") as info:
        read_wav(path)

    assert str(path) in str(info.value)


def test_a_directory_is_not_a_wav_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="cannot read") as info:
        read_wav(tmp_path)

    assert str(tmp_path) in str(info.value)


def test_not_a_wav_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("these are not the samples you are looking for\n")

    with pytest.raises(AudioError, match="RIFF") as info:
        read_wav(path)

    assert str(path) in str(info.value)


def test_empty_or_header_truncated_file(tmp_path: Path) -> None:
    write_wav(tmp_path / "full.wav", ramp(100), 8000)
    for name, data in [("empty.wav", b""), ("head.wav", (tmp_path / "full.wav").read_bytes()[:30])]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(AudioError, match="truncated") as info:
            read_wav(path)
        assert str(path) in str(info.value)


def test_file_truncated_inside_the_samples(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    write_wav(path, ramp(1000), 8000)
    path.write_bytes(path.read_bytes()[:-500])

    with pytest.raises(AudioError, match="declares 1000 frames, file holds 750") as info:
        read_wav(path)

    assert str(path) in str(info.value)


def mu_law_wav_bytes() -> bytes:
    # A valid G.711 μ-law WAV (format tag 7): compressed, which voxray does not decode.
    data = bytes([0x7F, 0xFF, 0x00, 0x80])
    fmt = struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_compressed_wav_is_unsupported(tmp_path: Path) -> None:
    # Float WAVs are read (tests/test_input_validation.py); compressed ones are refused.
    path = tmp_path / "mulaw.wav"
    path.write_bytes(mu_law_wav_bytes())

    with pytest.raises(AudioError, match="non-PCM encoding, WAV format tag 7") as info:
        read_wav(path)

    assert str(path) in str(info.value)


def test_write_rejects_float_samples_and_mismatched_channels(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="int16"):
        write_wav(tmp_path / "f.wav", np.zeros(10, dtype=np.float32), 8000)
    with pytest.raises(AudioError, match="channels"):
        write_wav(tmp_path / "c.wav", np.zeros((10, 3), dtype=np.int16), 8000, channels=2)
    with pytest.raises(AudioError, match="channel frames"):
        write_wav(tmp_path / "o.wav", np.zeros(11, dtype=np.int16), 8000, channels=2)
    assert list(tmp_path.iterdir()) == []


def test_stereo_interleave_pads_the_shorter_side() -> None:
    left = np.array([1, 2, 3], dtype=np.int16)
    right = np.array([4], dtype=np.int16)

    assert stereo_interleave(left, right).tolist() == [1, 4, 2, 0, 3, 0]
    assert stereo_interleave(right, left).tolist() == [4, 1, 0, 2, 0, 3]


def test_wav_audio_checks_its_shape() -> None:
    with pytest.raises(AudioError, match="expected"):
        WavAudio(samples=np.zeros(10, dtype=np.int16), rate=8000, channels=1)
    with pytest.raises(AudioError, match="rate"):
        WavAudio(samples=np.zeros((10, 1), dtype=np.int16), rate=0, channels=1)
