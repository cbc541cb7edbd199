"""Streaming resampling: no seams at frame edges, no wraparound on loud input."""

from __future__ import annotations

import numpy as np
import pytest
import soxr
from numpy.typing import NDArray
from voxray.actors.audio import StreamResampler, float_to_pcm16, frame_samples, pcm16_to_float
from voxray.actors.errors import AudioError

RATE_PAIRS = [(48000, 24000), (22050, 24000), (24000, 16000), (8000, 24000)]


def sine(rate: int, seconds: float, hz: float = 440.0, amplitude: float = 0.5) -> NDArray[np.int16]:
    t = np.arange(round(rate * seconds)) / rate
    return float_to_pcm16(amplitude * np.sin(2 * np.pi * hz * t))


def stream(resampler: StreamResampler, samples: NDArray[np.int16], chunk: int) -> NDArray[np.int16]:
    parts = [resampler.process(samples[i : i + chunk]) for i in range(0, samples.size, chunk)]
    return np.concatenate([*parts, resampler.flush()])


def snr_db(signal: NDArray[np.int16], reference: NDArray[np.float64]) -> float:
    x = pcm16_to_float(signal).astype(np.float64)
    noise = x - reference
    return float(10 * np.log10(np.sum(reference**2) / np.sum(noise**2)))


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_20ms_frames_resample_exactly_like_the_whole_signal(in_rate: int, out_rate: int) -> None:
    x = sine(in_rate, 1.0)

    chunked = stream(StreamResampler(in_rate, out_rate), x, frame_samples(in_rate, 20))
    whole = stream(StreamResampler(in_rate, out_rate), x, x.size)

    assert chunked.size == whole.size == round(x.size * out_rate / in_rate)
    assert np.max(np.abs(chunked.astype(np.int32) - whole)) <= 1


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_chunked_output_is_a_clean_sine_without_seams(in_rate: int, out_rate: int) -> None:
    chunked = stream(StreamResampler(in_rate, out_rate), sine(in_rate, 1.0), in_rate // 50)
    t = np.arange(chunked.size) / out_rate
    analytic = 0.5 * np.sin(2 * np.pi * 440 * t)
    edge = out_rate // 20  # the filter's ramp-up and ramp-down at the ends of the signal

    assert snr_db(chunked[edge:-edge], analytic[edge:-edge]) >= 80


def test_the_seam_check_catches_frame_by_frame_resampling() -> None:
    # Resampling each 20 ms frame on its own (the bug StreamResampler exists to prevent)
    # must fail the check above, or that check proves nothing.
    x = pcm16_to_float(sine(48000, 1.0))
    naive = np.concatenate(
        [soxr.resample(x[i : i + 960], 48000, 24000, "HQ") for i in range(0, x.size, 960)]
    )
    analytic = 0.5 * np.sin(2 * np.pi * 440 * np.arange(naive.size) / 24000)

    assert snr_db(float_to_pcm16(naive)[1200:-1200], analytic[1200:-1200]) < 60


@pytest.mark.parametrize(("in_rate", "out_rate"), [(48000, 24000), (22050, 24000)])
def test_full_scale_square_wave_saturates_without_wrapping(in_rate: int, out_rate: int) -> None:
    t = np.arange(in_rate) / in_rate
    square = np.where(np.sin(2 * np.pi * 100 * t) >= 0, 1.0, -1.0)

    out = stream(StreamResampler(in_rate, out_rate), float_to_pcm16(square), in_rate // 50)

    t_out = np.arange(out.size) / out_rate
    phase = (t_out * 100) % 1.0
    # Away from the edges of each half-cycle the output must sit at the input's sign.
    positive = (phase > 0.1) & (phase < 0.4)
    negative = (phase > 0.6) & (phase < 0.9)
    assert out[positive].min() > 30000
    assert out[negative].max() < -30000
    # The filter's overshoot past full scale was really exercised, and clipped.
    assert (out == 32767).any()
    assert (out == -32768).any()


def test_same_rate_is_a_zero_copy_passthrough() -> None:
    resampler = StreamResampler(24000, 24000)
    frame = sine(24000, 0.02)

    assert resampler.passthrough
    assert resampler.process(frame) is frame
    assert resampler.flush().size == 0


def test_interleaved_stereo_keeps_channels_apart() -> None:
    left = sine(48000, 0.5)
    stereo = np.stack([left, np.zeros_like(left)], axis=1).reshape(-1)

    out = stream(StreamResampler(48000, 24000, channels=2), stereo, 2 * 960)
    mono = stream(StreamResampler(48000, 24000), left, 960)

    frames = out.reshape(-1, 2)
    np.testing.assert_array_equal(frames[:, 0], mono)
    assert not frames[:, 1].any()


@pytest.mark.parametrize("end_stream", ["reset", "flush"])
def test_a_new_stream_after_reset_or_flush_carries_nothing_over(end_stream: str) -> None:
    resampler = StreamResampler(48000, 24000)
    resampler.process(sine(48000, 0.3, hz=1000, amplitude=0.9))
    getattr(resampler, end_stream)()

    second = stream(resampler, sine(48000, 0.3), 960)

    np.testing.assert_array_equal(
        second, stream(StreamResampler(48000, 24000), sine(48000, 0.3), 960)
    )


def test_output_may_arrive_in_bursts_but_totals_match() -> None:
    resampler = StreamResampler(48000, 24000)
    x = sine(48000, 0.5)

    sizes = [resampler.process(x[i : i + 960]).size for i in range(0, x.size, 960)]
    total = sum(sizes) + resampler.flush().size

    assert total == x.size // 2


@pytest.mark.parametrize(
    ("samples", "channels", "cause"),
    [
        (np.zeros(960, dtype=np.float32), 1, "int16"),
        (np.zeros((480, 2), dtype=np.int16), 2, "1-D"),
        (np.zeros(961, dtype=np.int16), 2, "whole number"),
    ],
)
def test_process_rejects_samples_it_cannot_interpret(
    samples: NDArray[np.int16], channels: int, cause: str
) -> None:
    with pytest.raises(AudioError, match=cause):
        StreamResampler(48000, 24000, channels=channels).process(samples)


def test_invalid_settings_are_rejected_up_front() -> None:
    with pytest.raises(AudioError, match="rates"):
        StreamResampler(0, 24000)
    with pytest.raises(AudioError, match="channels"):
        StreamResampler(48000, 24000, channels=0)
    with pytest.raises(AudioError, match="quality"):
        StreamResampler(48000, 24000, quality="best")  # type: ignore[arg-type]
