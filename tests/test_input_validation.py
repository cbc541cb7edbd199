"""Input that used to pass validation and fail later (a traceback in the cost estimate, a failed
run after Ray had started): every case is exit 2 with one line naming the cause, before any
cluster is joined or started."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from voxray.actors.audio.wav import read_wav
from voxray.cli import main
from voxray.client import Fleet
from voxray.evals.suite import load_suite

SMOKE = Path(__file__).resolve().parents[1] / "configs" / "evals" / "smoke.yaml"


def wav_bytes(data: bytes, *, tag: int, bits: int, extensible: bool = False) -> bytes:
    block = bits // 8
    if extensible:
        guid_tail = bytes.fromhex("000000001000800000aa00389b71")
        fmt = struct.pack(
            "<HHIIHHHHIH", 0xFFFE, 1, 16000, 16000 * block, block, bits, 22, bits, 4, tag
        )
        fmt += guid_tail
    else:
        fmt = struct.pack("<HHIIHH", tag, 1, 16000, 16000 * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tone(frames: int = 1600) -> np.ndarray:
    return 0.5 * np.sin(np.linspace(0, 2 * np.pi * 44, frames))


BROKEN: dict[str, Callable[[], bytes]] = {
    "zero-bytes": lambda: b"",
    "six-byte-header": lambda: b"RIFF\x00\x00",
    "random-bytes": lambda: np.random.default_rng(7).bytes(4000),
    "mu-law": lambda: wav_bytes(b"\x7f" * 1600, tag=7, bits=8),
}


def suite_with_audio(folder: Path, wav: bytes) -> Path:
    (folder / "caller.wav").write_bytes(wav)
    suite = folder / "suite.yaml"
    suite.write_text(
        "name: broken-audio\nbackend: sim\nscenarios:\n"
        "  - name: recorded\n    turns:\n      - audio: caller.wav\n"
    )
    return suite


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Joining or starting Ray fails the test: validation must come first."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ray was started for invalid input")

    monkeypatch.setattr(Fleet, "connect", classmethod(refuse))


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_unreadable_audio_is_exit_2_before_anything_starts(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_cluster: None
) -> None:
    suite = suite_with_audio(tmp_path, BROKEN[case]())
    code = main(["eval", str(suite), "--out", str(tmp_path / "run")])
    printed = capsys.readouterr()
    assert code == 2, printed
    lines = printed.out.strip().splitlines()
    assert len(lines) == 1, printed.out
    assert "scenario 'recorded'" in lines[0] and "turns[0].audio" in lines[0]
    assert "caller.wav" in lines[0]
    assert "Traceback" not in printed.err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("speed", ["nan", "inf", "-inf", "0", "-2"])
def test_speed_must_be_a_finite_positive_number(
    speed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_cluster: None
) -> None:
    code = main(["eval", str(SMOKE), "--out", str(tmp_path / "run"), f"--speed={speed}"])
    printed = capsys.readouterr()
    assert code == 2, printed
    assert len(printed.out.strip().splitlines()) == 1
    assert "speed" in printed.out and "finite number > 0" in printed.out
    assert not (tmp_path / "run").exists()


def test_simulator_speed_must_be_finite(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--speed", "nan"]) == 2
    assert "--speed must be a finite number > 0" in capsys.readouterr().out


@pytest.mark.parametrize("extensible", [False, True], ids=["plain", "extensible"])
@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
def test_float_wavs_are_read_scaled_and_clipped(
    tmp_path: Path, dtype: str, extensible: bool
) -> None:
    samples = np.concatenate([tone(), [1.5, -1.5]]).astype(dtype)
    path = tmp_path / "float.wav"
    bits = 8 * np.dtype(dtype).itemsize
    path.write_bytes(wav_bytes(samples.tobytes(), tag=3, bits=bits, extensible=extensible))
    audio = read_wav(path)
    assert (audio.rate, audio.channels, audio.frames) == (16000, 1, samples.size)
    expected = np.round(np.clip(samples.astype(np.float64), -1, 1) * 32767).astype(np.int16)
    np.testing.assert_array_equal(audio.interleaved, expected)


def test_a_suite_with_a_float_wav_loads(tmp_path: Path) -> None:
    wav = wav_bytes(tone().astype("<f4").tobytes(), tag=3, bits=32)
    suite = load_suite(suite_with_audio(tmp_path, wav))
    assert suite.scenarios[0].name == "recorded"


def test_a_float_wav_with_nan_samples_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    path.write_bytes(wav_bytes(np.array([0.1, np.nan], dtype="<f4").tobytes(), tag=3, bits=32))
    with pytest.raises(Exception, match="NaN or infinite"):
        read_wav(path)
