"""Caller conditions do what their documentation says, measured on the audio they produce."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from voxray.actors.audio.conditions import (
    PRESETS,
    CallerCondition,
    MicrophoneConfig,
    NoiseConfig,
    PacketLossConfig,
    SpeakerConfig,
    TelephoneConfig,
    active_speech_power,
)
from voxray.actors.audio.conditions.packet_loss import PacketLossStage
from voxray.actors.audio.conditions.stream import DelayLine
from voxray.actors.audio.pcm import pcm16_to_float
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.audio.speech import SpeechSynthesizer
from voxray.actors.audio.wav import write_wav

RATE = 24_000
CHUNK = RATE // 10  # the microphone's 100 ms appends


@pytest.fixture(scope="module")
def speech() -> NDArray[np.int16]:
    audio = SpeechSynthesizer().synthesize(
        "Hello, I would like to book a table for four people tomorrow evening at eight."
    )
    resampler = StreamResampler(audio.rate, RATE)
    return np.concatenate((resampler.process(audio.samples), resampler.flush()))


def _stream(line: object, signal: NDArray[np.int16], chunk: int = CHUNK) -> NDArray[np.int16]:
    out = [line(signal[i : i + chunk]) for i in range(0, signal.size, chunk)]  # type: ignore[operator]
    return np.concatenate(out)


def _padded(speech: NDArray[np.int16], seconds: float) -> NDArray[np.int16]:
    total = int(seconds * RATE)
    total -= total % CHUNK
    return np.concatenate((speech, np.zeros(total - speech.size, dtype=np.int16)))


@pytest.mark.parametrize("kind", ["white", "pink", "brown", "babble", "file"])
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_noise_is_mixed_at_the_asked_snr(
    kind: str, snr_db: float, speech: NDArray[np.int16], tmp_path: Path
) -> None:
    path = None
    if kind == "file":
        rng = np.random.default_rng(5)
        hum = 3000 * np.sin(2 * np.pi * 120 * np.arange(RATE * 3) / RATE) + rng.normal(
            0, 800, RATE * 3
        )
        path = tmp_path / "hum.wav"
        write_wav(path, hum.astype(np.int16), RATE)
    condition = CallerCondition(noise=NoiseConfig(kind=kind, snr_db=snr_db, path=path))  # type: ignore[arg-type]
    line = condition.line(RATE, seed=3)
    assert line is not None
    line.hear_utterance(speech)
    clean = _padded(speech, 13.0)  # longer than the 12 s noise loop
    heard = _stream(line, clean)
    noise = pcm16_to_float(heard) - pcm16_to_float(clean)
    speech_power = active_speech_power(pcm16_to_float(speech), RATE)
    assert speech_power is not None
    measured = 10 * np.log10(speech_power / np.mean(noise.astype(np.float64) ** 2))
    assert abs(measured - snr_db) < 1.0, f"{kind} at {snr_db} dB measured {measured:.2f} dB"


def test_noise_fills_the_silence_between_utterances(speech: NDArray[np.int16]) -> None:
    line = PRESETS["noisy-cafe"].line(RATE, seed=1)
    assert line is not None
    line.hear_utterance(speech)
    heard = _stream(line, np.zeros(RATE, dtype=np.int16))
    assert np.sqrt(np.mean(pcm16_to_float(heard) ** 2)) > 0.005  # not digital silence


@pytest.mark.parametrize(("rate", "burst"), [(0.05, 1.0), (0.05, 3.0), (0.2, 4.0)])
def test_packet_loss_rate_and_bursts_over_a_long_signal(rate: float, burst: float) -> None:
    config = PacketLossConfig(rate=rate, burst_frames=burst, concealment="silence")
    stage = PacketLossStage(config, RATE, seed=11)
    tone = np.full(RATE * 400, 0.25, dtype=np.float32)  # 400 s: 20,000 packets
    out = np.concatenate([stage.process(tone[i : i + CHUNK]) for i in range(0, tone.size, CHUNK)])
    packets = out.reshape(-1, RATE // 50)
    lost = np.all(packets == 0, axis=1)
    assert stage.packets == 20_000
    assert lost.sum() == stage.lost
    assert abs(lost.mean() - rate) < 0.01
    # Mean length of runs of lost packets ≈ the configured burst.
    edges = np.diff(np.concatenate(([0], lost.astype(int), [0])))
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    expected_burst = 1 / (1 - rate) if burst == 1.0 else burst  # Bernoulli runs are geometric
    assert abs(runs.mean() - expected_burst) < 0.15 * expected_burst


def test_packet_loss_concealment_repeats_the_last_packet_fading_out() -> None:
    stage = PacketLossStage(PacketLossConfig(rate=0.3, burst_frames=5.0), RATE, seed=2)
    packet = RATE // 50
    ramp = np.tile(np.linspace(-0.5, 0.5, packet, dtype=np.float32), 2000)
    out = np.concatenate([stage.process(ramp[i : i + CHUNK]) for i in range(0, ramp.size, CHUNK)])
    packets = out.reshape(-1, packet)
    template = ramp[:packet]
    repeated = faded = muted = 0
    for index in range(len(packets)):
        if np.array_equal(packets[index], template):
            continue
        ratio = packets[index] / np.where(template == 0, 1, template)
        if np.all(packets[index] == 0):
            muted += 1
        elif np.all(ratio <= 1.0 + 1e-6):
            faded += 1
        repeated += 1
    assert stage.lost == repeated
    assert faded > 0 and muted > 0  # the first lost packets replay faded, long bursts go silent


def _band_power(signal: NDArray[np.float32], low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(signal)) ** 2
    frequencies = np.fft.rfftfreq(signal.size, 1 / RATE)
    return float(spectrum[(frequencies >= low) & (frequencies < high)].sum())


def test_telephone_line_is_band_limited_and_keeps_the_voice_band() -> None:
    rng = np.random.default_rng(0)
    white = (rng.normal(0, 0.1, RATE * 4)).astype(np.float32)
    line = CallerCondition(telephone=TelephoneConfig()).line(RATE)
    assert line is not None
    heard = pcm16_to_float(_stream(line, (white * 32767).astype(np.int16)))[RATE // 2 :]
    source = white[RATE // 2 :]

    def db(low: float, high: float) -> float:
        return 10 * np.log10(_band_power(heard, low, high) / _band_power(source, low, high))

    assert abs(db(500, 3000)) < 2.0  # the voice band passes
    assert db(4000, 12000) < -40.0  # nothing above the 8 kHz line's Nyquist
    assert db(3700, 4000) < -15.0  # the 3.4 kHz band edge
    assert db(20, 150) < -20.0  # the 300 Hz low edge


def test_telephone_line_quantises_like_g711() -> None:
    tone = (8000 * np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE)).astype(np.int16)
    ulaw = CallerCondition(telephone=TelephoneConfig(codec="mulaw")).line(RATE)
    alaw = CallerCondition(telephone=TelephoneConfig(codec="alaw")).line(RATE)
    assert ulaw is not None and alaw is not None
    a, b = _stream(ulaw, tone), _stream(alaw, tone)
    assert a.size == b.size == tone.size
    assert not np.array_equal(a, b)  # the two companders quantise differently


@pytest.mark.parametrize(
    ("rate", "chunk_ms"), [(24_000, 20), (24_000, 100), (16_000, 20), (48_000, 20)]
)
def test_a_telephone_line_never_drops_out_mid_call(rate: int, chunk_ms: int) -> None:
    tone = (8000 * np.sin(2 * np.pi * 1000 * np.arange(rate * 3) / rate)).astype(np.int16)
    line = CallerCondition(telephone=TelephoneConfig()).line(rate)
    assert line is not None
    heard = _stream(line, tone, chunk=rate * chunk_ms // 1000).astype(np.float64)
    onset = int(np.argmax(np.abs(heard) > 1000))  # the line's own delay comes first
    window = rate // 200  # 5 ms
    body = heard[onset:]
    count = body.size // window
    rms = np.sqrt((body[: count * window].reshape(count, window) ** 2).mean(axis=1))
    assert [index * 5 for index in np.nonzero(rms < 1000)[0]] == []  # ms of each dropout


def test_a_delay_line_that_runs_dry_fills_silence_counts_it_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    line = DelayLine(prime=4)
    line.push(np.ones(2, dtype=np.float32))
    assert np.array_equal(line.pop(8), np.array([0, 0] + [0] * 4 + [1, 1], dtype=np.float32))
    assert line.underruns == 2
    line.pop(3)
    assert line.underruns == 5
    warnings = [r.getMessage() for r in caplog.records if r.name == "voxray.conditions"]
    assert len(warnings) == 1 and "2 samples of silence inserted" in warnings[0]


def test_cheap_microphone_gain_clipping_and_response() -> None:
    t = np.arange(RATE) / RATE
    quiet_1k = (0.05 * np.sin(2 * np.pi * 1000 * t) * 32767).astype(np.int16)
    quiet_100 = (0.05 * np.sin(2 * np.pi * 100 * t) * 32767).astype(np.int16)
    mic = CallerCondition(microphone=MicrophoneConfig(response="cheap", gain_db=6.0, clip_dbfs=-6))

    def level(signal: NDArray[np.int16]) -> float:
        line = mic.line(RATE)
        assert line is not None
        out = pcm16_to_float(_stream(line, signal))[RATE // 4 :]
        return float(
            20 * np.log10(np.sqrt(np.mean(out**2)) / np.sqrt(np.mean(pcm16_to_float(signal) ** 2)))
        )

    assert abs(level(quiet_1k) - 6.0) < 1.0  # the gain, on the flat part of the response
    assert level(quiet_100) < 6.0 - 15.0  # a cheap capsule has no bass
    loud = (0.9 * np.sin(2 * np.pi * 1000 * t) * 32767).astype(np.int16)
    line = mic.line(RATE)
    assert line is not None
    clipped = _stream(line, loud)
    ceiling = 32767 * 10 ** (-6 / 20)
    assert np.abs(clipped).max() <= ceiling + 1
    assert np.mean(np.abs(clipped) >= ceiling - 1) > 0.3  # flattened tops


@pytest.mark.parametrize("name", [name for name, c in PRESETS.items() if c.changes_audio])
def test_presets_are_reproducible_per_seed(name: str, speech: NDArray[np.int16]) -> None:
    def hear(seed: int) -> NDArray[np.int16]:
        line = PRESETS[name].line(RATE, seed=seed)
        assert line is not None
        line.hear_utterance(speech)
        return _stream(line, _padded(speech, 6.0))

    first, again, other = hear(1), hear(1), hear(2)
    assert np.array_equal(first, again)
    assert first.size == _padded(speech, 6.0).size
    assert not np.array_equal(first, other)  # each run's seed gives its own noise and losses


def test_unaligned_chunks_keep_the_length_and_the_audio() -> None:
    line = CallerCondition(packet_loss=PacketLossConfig(rate=0.0)).line(RATE)
    assert line is not None
    ramp = (np.arange(RATE, dtype=np.int64) % 20000).astype(np.int16)
    heard = _stream(line, ramp, chunk=333)
    assert heard.size == ramp.size
    delay = RATE // 50  # one packet, held back because the chunks do not align with packets
    assert np.array_equal(heard[delay:], ramp[:-delay])


def test_speaker_overrides_voice_rate_and_pitch() -> None:
    speaker = CallerCondition(
        speaker=SpeakerConfig(voice="en-gb-scotland", rate_factor=3.0, pitch=70)
    )
    spoken = speaker.voice_for("en-us", 175)
    assert (spoken.voice, spoken.words_per_minute, spoken.pitch) == ("en-gb-scotland", 450, 70)
    assert not speaker.changes_audio and speaker.line(RATE) is None
    assert CallerCondition().voice_for("en-us", 175).words_per_minute == 175


def test_invalid_conditions_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="needs `path`"):
        NoiseConfig(kind="file", snr_db=10)
    with pytest.raises(ValueError, match="rate too high"):
        PacketLossConfig(rate=0.9, burst_frames=2)
