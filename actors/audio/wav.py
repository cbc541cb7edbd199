"""Reading and writing PCM WAV files as int16 samples.

Scenario audio comes from users in whatever format their tools wrote; everything inside
voxray is int16, so 8-, 24- and 32-bit PCM are narrowed and 32/64-bit IEEE float (what DAWs,
numpy and soundfile write by default) is scaled and clipped on read, plain or with a
``WAVE_FORMAT_EXTENSIBLE`` header. Anything else (compressed WAVs, truncated files, not a WAV)
becomes an :class:`AudioError` naming the file and the cause.
"""

from __future__ import annotations

import os
import struct
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio.pcm import downmix_to_mono
from voxray.actors.errors import AudioError

__all__ = ["WavAudio", "read_wav", "stereo_interleave", "write_wav"]

_FORMAT_PCM: Final = 1
_FORMAT_FLOAT: Final = 3
_FORMAT_EXTENSIBLE: Final = 0xFFFE


@dataclass(frozen=True, eq=False)
class WavAudio:
    """Decoded PCM audio.

    ``eq=False`` because comparing numpy arrays element-wise has no single truth value;
    compare ``samples`` with ``np.array_equal`` instead.

    Attributes:
        samples: int16 samples shaped ``(frames, channels)``.
        rate: sample rate in Hz.
        channels: number of interleaved channels.
    """

    samples: NDArray[np.int16]
    rate: int
    channels: int

    def __post_init__(self) -> None:
        if self.samples.dtype != np.int16:
            raise AudioError(f"WavAudio needs int16 samples, got {self.samples.dtype}")
        if self.samples.ndim != 2 or self.samples.shape[1] != self.channels:
            raise AudioError(
                f"WavAudio samples shaped {self.samples.shape} do not match "
                f"{self.channels} channel(s); expected (frames, {self.channels})"
            )
        if self.rate <= 0:
            raise AudioError(f"WavAudio sample rate must be positive, got {self.rate} Hz")

    @property
    def frames(self) -> int:
        """Number of sample frames (samples per channel)."""
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return self.frames / self.rate

    @property
    def interleaved(self) -> NDArray[np.int16]:
        """The samples as one 1-D interleaved array (a view; plain samples when mono)."""
        return self.samples.reshape(-1)

    def mono(self) -> WavAudio:
        """This audio averaged down to one channel (itself when already mono)."""
        if self.channels == 1:
            return self
        mixed = downmix_to_mono(self.interleaved, self.channels)
        return WavAudio(samples=mixed.reshape(-1, 1), rate=self.rate, channels=1)


def _narrow_to_int16(raw: bytes, sample_width: int, path: Path) -> NDArray[np.int16]:
    # WAV PCM is little-endian; 8-bit is the one unsigned width.
    if sample_width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if sample_width == 1:
        unsigned = np.frombuffer(raw, dtype=np.uint8).astype(np.int16)
        return (unsigned - 128) << 8
    if sample_width == 3:
        # The top two bytes of each little-endian 24-bit sample are its int16 value.
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        return np.ascontiguousarray(triples[:, 1:]).view("<i2").reshape(-1).astype(np.int16)
    if sample_width == 4:
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    raise AudioError(f"{path}: unsupported sample width of {sample_width} bytes")


def read_wav(path: str | Path) -> WavAudio:
    """Read a WAV file (8, 16, 24 or 32-bit integer PCM, or 32/64-bit float) as int16 samples.

    Raises:
        AudioError: the file is missing or unreadable, is not a WAV file, is truncated, or
            holds an encoding other than those (μ-law, ADPCM, ...).
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as reader:
            channels = reader.getnchannels()
            sample_width = reader.getsampwidth()
            rate = reader.getframerate()
            declared_frames = reader.getnframes()
            raw = reader.readframes(declared_frames)
    except FileNotFoundError as exc:
        raise AudioError(f"{path}: no such file") from exc
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except EOFError as exc:
        raise AudioError(f"{path}: file ends inside the WAV header (empty or truncated)") from exc
    except wave.Error as exc:
        if str(exc) in (
            f"unknown format: {_FORMAT_FLOAT}",
            f"unknown format: {_FORMAT_EXTENSIBLE}",
        ):
            return _read_float_or_extensible(path)
        raise AudioError(f"{path}: not a readable PCM WAV file ({_describe(exc)})") from exc
    if channels < 1 or rate <= 0:
        raise AudioError(f"{path}: invalid WAV header ({channels} channels at {rate} Hz)")
    frame_bytes = channels * sample_width
    if len(raw) != declared_frames * frame_bytes:
        raise AudioError(
            f"{path}: truncated WAV data: header declares {declared_frames} frames, "
            f"file holds {len(raw) // frame_bytes}"
        )
    samples = _narrow_to_int16(raw, sample_width, path)
    return WavAudio(samples=samples.reshape(-1, channels), rate=rate, channels=channels)


def _read_float_or_extensible(path: Path) -> WavAudio:
    """The formats the stdlib ``wave`` module refuses but voxray reads: IEEE float, and PCM or
    float behind a ``WAVE_FORMAT_EXTENSIBLE`` header. Walks the RIFF chunks itself."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    fmt: bytes | None = None
    samples: bytes | None = None
    declared = 0
    offset = 12  # after RIFF, size, WAVE (checked by wave already)
    while offset + 8 <= len(data) and (fmt is None or samples is None):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            samples, declared = body, size
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    if fmt is None or len(fmt) < 16 or samples is None:
        raise AudioError(f"{path}: not a readable WAV file (no complete fmt and data chunks)")
    tag, channels, rate, _byte_rate, _block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _FORMAT_EXTENSIBLE:
        if len(fmt) < 26:
            raise AudioError(f"{path}: not a readable WAV file (extensible header too short)")
        (tag,) = struct.unpack_from("<H", fmt, 24)  # the sub-format GUID starts with the tag
    if channels < 1 or rate <= 0 or bits % 8 or bits == 0:
        raise AudioError(
            f"{path}: invalid WAV header ({channels} channels at {rate} Hz, {bits}-bit)"
        )
    width = bits // 8
    frame_bytes = channels * width
    if len(samples) != declared or len(samples) % frame_bytes:
        raise AudioError(
            f"{path}: truncated WAV data: header declares {declared // frame_bytes} frames, "
            f"file holds {len(samples) // frame_bytes}"
        )
    if tag == _FORMAT_PCM:
        narrowed = _narrow_to_int16(samples, width, path)
    elif tag == _FORMAT_FLOAT and width in (4, 8):
        floats = np.frombuffer(samples, dtype="<f4" if width == 4 else "<f8")
        if not np.all(np.isfinite(floats)):
            raise AudioError(f"{path}: float WAV holds NaN or infinite samples")
        narrowed = np.round(np.clip(floats, -1.0, 1.0) * 32767.0).astype(np.int16)
    else:
        raise AudioError(
            f"{path}: not a readable WAV file (compressed or non-PCM encoding, "
            f"WAV format tag {tag}, {bits}-bit)"
        )
    return WavAudio(samples=narrowed.reshape(-1, channels), rate=rate, channels=channels)


def _describe(exc: wave.Error) -> str:
    message = str(exc)
    # wave reports non-PCM encodings only by their numeric format tag.
    if message.startswith("unknown format:"):
        return f"compressed or non-PCM encoding, WAV format tag {message.split(':')[1].strip()}"
    return message


def write_wav(path: str | Path, samples: NDArray[np.int16], rate: int, channels: int = 1) -> None:
    """Write int16 samples as a 16-bit PCM WAV file, creating parent directories.

    ``samples`` is 1-D (mono, or interleaved when ``channels`` > 1) or shaped
    ``(frames, channels)``. The file appears atomically: readers never see a partial WAV.

    Raises:
        AudioError: the samples are not int16 or do not fit ``channels``, or the file cannot
            be written.
    """
    path = Path(path)
    if samples.dtype != np.int16:
        raise AudioError(f"{path}: can only write int16 samples, got {samples.dtype}")
    if channels < 1 or rate <= 0:
        raise AudioError(f"{path}: cannot write {channels} channels at {rate} Hz")
    if samples.ndim == 2 and samples.shape[1] != channels:
        raise AudioError(f"{path}: samples shaped {samples.shape} are not {channels} channels")
    if samples.ndim > 2 or samples.size % channels:
        raise AudioError(
            f"{path}: {samples.size} samples shaped {samples.shape} do not split into "
            f"{channels}-channel frames"
        )
    data = np.ascontiguousarray(samples, dtype="<i2").tobytes()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle, wave.open(handle, "wb") as writer:
                writer.setnchannels(channels)
                writer.setsampwidth(2)
                writer.setframerate(rate)
                writer.writeframes(data)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise AudioError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def stereo_interleave(left: NDArray[np.int16], right: NDArray[np.int16]) -> NDArray[np.int16]:
    """Interleave two mono tracks into 1-D stereo (L0, R0, L1, R1, ...).

    The shorter track is padded with silence so neither side is cut off.
    """
    frames = max(left.size, right.size)
    out = np.zeros((frames, 2), dtype=np.int16)
    out[: left.size, 0] = left.reshape(-1)
    out[: right.size, 1] = right.reshape(-1)
    return out.reshape(-1)
