"""``voxray bench audio``: the microphone-to-wire audio path, per 20 ms frame.

Side by side in one run: voxray's persistent soxr stream resampler against per-chunk FFT
resampling with ``scipy.signal.resample`` (the starting point's method, one call per 20 ms
frame), on a 440 Hz sine cut into 20 ms frames at 48 kHz and resampled to 24 kHz. The engine
calls the resampler once per 100 ms append chunk, which amortises its fixed per-call cost; the
one-call-per-frame figure is shown too. Reports the median cost per frame, the SNR
against the analytic sine, and the error at frame boundaries (where per-chunk resampling puts a
seam). Then the whole input path, amortised per 20 ms frame: resample, chunk, encode, serialize.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio.pcm import float_to_pcm16
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.conversation.agent import AudioFormatConfig
from voxray.actors.conversation.audio_paths import InputAudioPath
from voxray.actors.realtime.transport import append_frame
from voxray.bench.registry import Benchmark, BenchResult, Figure, median, register

__all__ = ["run"]

IN_RATE, OUT_RATE, FRAME_MS, TONE_HZ = 48_000, 24_000, 20, 440.0


def _sine(rate: int, seconds: float) -> NDArray[np.float64]:
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * TONE_HZ * t)


def _frames(signal: NDArray[np.int16]) -> list[NDArray[np.int16]]:
    size = IN_RATE * FRAME_MS // 1000
    return [signal[i : i + size] for i in range(0, len(signal) - size + 1, size)]


def _time_per_frame(
    process: Callable[[NDArray[np.int16]], object], frames: list[NDArray[np.int16]], repeats: int
) -> float:
    """Median over ``repeats`` passes of the mean µs per frame of one pass."""
    passes = []
    for _ in range(repeats):
        start = time.perf_counter()
        for frame in frames:
            process(frame)
        passes.append((time.perf_counter() - start) / len(frames) * 1e6)
    return median(passes)


def _snr_db(output: NDArray[np.int16], skip: int) -> tuple[float, float]:
    """SNR against the analytic sine at the output rate, and the worst boundary error (LSB)."""
    reference = float_to_pcm16(_sine(OUT_RATE, len(output) / OUT_RATE)).astype(np.float64)
    got = output.astype(np.float64)
    core = slice(skip, len(got) - skip)
    error = got[core] - reference[core]
    snr = 10 * np.log10(np.sum(reference[core] ** 2) / max(np.sum(error**2), 1e-12))
    out_frame = OUT_RATE * FRAME_MS // 1000
    boundaries = np.arange(out_frame, len(got) - skip, out_frame)
    boundaries = boundaries[boundaries > skip]
    seam = float(np.max(np.abs(got[boundaries] - reference[boundaries])))
    return float(snr), seam


def _soxr_stream(frames: list[NDArray[np.int16]]) -> NDArray[np.int16]:
    resampler = StreamResampler(IN_RATE, OUT_RATE)
    parts = [resampler.process(frame) for frame in frames]
    return np.concatenate([*parts, resampler.flush()])


def _fft_per_chunk(frame: NDArray[np.int16]) -> NDArray[np.int16]:
    from scipy import signal  # the starting point's method; an optional benchmark dependency

    samples = int(len(frame) * OUT_RATE / IN_RATE)
    return np.asarray(signal.resample(frame.astype(np.float32), samples)).astype(np.int16)


def run(quick: bool) -> BenchResult:
    """Measure the audio path; ``quick`` uses fewer frames and passes."""
    seconds, repeats = (2.0, 3) if quick else (10.0, 9)
    frames = _frames(float_to_pcm16(_sine(IN_RATE, seconds)))
    figures: list[Figure] = []

    stream = StreamResampler(IN_RATE, OUT_RATE)
    soxr_us = _time_per_frame(stream.process, frames, repeats)
    # How the engine uses it: one call per 100 ms append chunk (5 frames), cost per frame.
    chunked = [np.concatenate(frames[i : i + 5]) for i in range(0, len(frames) - 4, 5)]
    amortised_stream = StreamResampler(IN_RATE, OUT_RATE)
    amortised_us = _time_per_frame(amortised_stream.process, chunked, repeats) / 5
    soxr_snr, soxr_seam = _snr_db(_soxr_stream(frames), skip=OUT_RATE // 50)
    notes: list[str] = []
    try:
        fft_us = _time_per_frame(_fft_per_chunk, frames, repeats)
        fft_out = np.concatenate([_fft_per_chunk(frame) for frame in frames])
        fft_snr, fft_seam = _snr_db(fft_out, skip=OUT_RATE // 50)
    except ImportError:
        fft_us = fft_snr = fft_seam = float("nan")
        notes.append("scipy is not installed: pip install 'voxray[bench]' for the FFT baseline")

    speedup = fft_us / amortised_us
    figures += [
        Figure(name="per-chunk FFT (scipy), per 20 ms frame", value=fft_us, unit="µs"),
        Figure(name="soxr stream, one call per 20 ms frame", value=soxr_us, unit="µs"),
        Figure(
            name="soxr stream, per frame, as the engine calls it", value=amortised_us, unit="µs"
        ),
        Figure(
            name="resampler speed-up over per-chunk FFT",
            value=speedup,
            unit="x",
            target=">= 5",
            met=bool(speedup >= 5),
        ),
        Figure(name="speed-up, one call per frame", value=fft_us / soxr_us, unit="x"),
        Figure(
            name="soxr SNR, 440 Hz sine",
            value=soxr_snr,
            unit="dB",
            target=">= 80",
            met=bool(soxr_snr >= 80),
        ),
        Figure(name="FFT SNR, 440 Hz sine", value=fft_snr, unit="dB", target="< 50 (baseline)"),
        Figure(name="soxr error at frame boundaries", value=soxr_seam, unit="LSB max"),
        Figure(name="FFT error at frame boundaries", value=fft_seam, unit="LSB max"),
    ]

    # The whole input path, as the engine runs it: 20 ms frames at 48 kHz in, resampled,
    # gathered into 100 ms chunks, base64-encoded and serialized as append events.
    path = InputAudioPath(AudioFormatConfig(rate=OUT_RATE), chunk_ms=100)

    def through_path(frame: NDArray[np.int16]) -> None:
        path.push(frame, rate=IN_RATE, channels=1)
        for payload in path.take_chunks():
            append_frame(payload)

    path_us = _time_per_frame(through_path, frames, repeats)
    figures.append(
        Figure(
            name="input path (resample+encode+serialize), per frame",
            value=path_us,
            unit="µs",
            target="<= 15",
            met=bool(path_us <= 15),
        )
    )
    return BenchResult(
        name="audio",
        description="48 kHz -> 24 kHz microphone path, 20 ms frames",
        figures=figures,
        notes=notes,
    )


register(Benchmark("audio", "audio path: soxr stream vs per-chunk FFT", run))
