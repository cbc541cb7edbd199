"""The simulator's energy VAD on synthetic signals, measured on the audio timeline."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.audio.speech import SpeechSynthesizer
from voxray.actors.simulator.vad import EnergyVad, SpeechStarted, SpeechStopped, VadEvent

RATE = 24_000
THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9]


def silence(ms: int) -> NDArray[np.int16]:
    return np.zeros(RATE * ms // 1000, dtype=np.int16)


def noise(ms: int, rms: float, seed: int = 1) -> NDArray[np.int16]:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.0, rms, RATE * ms // 1000), -32768, 32767).astype(np.int16)


def tone(ms: int, rms: float, hz: float = 220.0) -> NDArray[np.int16]:
    t = np.arange(RATE * ms // 1000, dtype=np.float64) / RATE
    wave: NDArray[np.float64] = np.sin(2 * np.pi * hz * t) * rms * np.sqrt(2)
    return wave.astype(np.int16)


def speech_like(ms: int) -> NDArray[np.int16]:
    """Syllables of varying loudness (RMS 800..4000) separated by short pauses, like espeak."""
    parts: list[NDArray[np.int16]] = []
    levels = [800.0, 2500.0, 4000.0, 1500.0, 3000.0]
    total = 0
    i = 0
    while total < ms:
        parts.append(tone(160, levels[i % len(levels)], hz=150.0 + 30 * (i % 4)))
        parts.append(silence(60))
        total += 220
        i += 1
    return np.concatenate(parts)


def run(vad: EnergyVad, signal: NDArray[np.int16], chunk_ms: int = 100) -> list[VadEvent]:
    step = RATE * chunk_ms // 1000
    events: list[VadEvent] = []
    for offset in range(0, signal.size, step):
        events.extend(vad.feed(signal[offset : offset + step]))
    return events


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_speech_is_one_turn_at_every_threshold(threshold: float) -> None:
    signal = np.concatenate((silence(1000), speech_like(1500), silence(1500)))
    vad = EnergyVad(RATE, threshold=threshold, prefix_padding_ms=300, silence_duration_ms=500)

    events = run(vad, signal)

    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    started, stopped = events
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    # Onset at 1000 ms minus 300 ms of prefix padding; a quiet first syllable may delay it.
    assert 650 <= started.audio_start_ms <= 1000
    # Speech ends by ~2,500 ms (last syllable), the hangover adds 500 ms.
    assert 2900 <= stopped.audio_end_ms <= 3100
    assert 1200 <= stopped.speech_ms <= 1600


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_silence_and_low_noise_never_start_a_turn(threshold: float) -> None:
    vad = EnergyVad(RATE, threshold=threshold)
    signal = np.concatenate((silence(1000), noise(3000, rms=100.0), silence(500)))
    assert run(vad, signal) == []


def test_low_noise_after_speech_does_not_keep_the_turn_open() -> None:
    vad = EnergyVad(RATE, threshold=0.1, silence_duration_ms=400)
    events = run(vad, np.concatenate((speech_like(800), noise(2000, rms=100.0))))
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]


def test_hangover_bridges_pauses_shorter_than_silence_duration() -> None:
    vad = EnergyVad(RATE, threshold=0.5, silence_duration_ms=500)
    signal = np.concatenate((tone(500, 3000), silence(400), tone(500, 3000), silence(800)))
    events = run(vad, signal)
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    stopped = events[1]
    assert isinstance(stopped, SpeechStopped)
    assert stopped.audio_end_ms == 1400 + 500


def test_pause_longer_than_silence_duration_splits_turns() -> None:
    vad = EnergyVad(RATE, threshold=0.5, silence_duration_ms=200)
    signal = np.concatenate((tone(500, 3000), silence(400), tone(500, 3000), silence(400)))
    events = run(vad, signal)
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped] * 2
    second = events[2]
    assert isinstance(second, SpeechStarted)
    assert second.audio_start_ms == 900 - 333


def test_a_click_is_not_speech() -> None:
    vad = EnergyVad(RATE, threshold=0.5)
    assert run(vad, np.concatenate((silence(200), tone(20, 8000), silence(1000)))) == []


def test_results_do_not_depend_on_chunking() -> None:
    signal = np.concatenate((silence(300), speech_like(1200), silence(900)))
    by_chunk = [run(EnergyVad(RATE, 0.85), signal, chunk_ms=ms) for ms in (7, 20, 100, 1000)]
    assert all(events == by_chunk[0] for events in by_chunk)
    assert len(by_chunk[0]) == 2


def test_reset_drops_open_speech_but_keeps_the_timeline() -> None:
    vad = EnergyVad(RATE, threshold=0.5)
    assert [type(e) for e in run(vad, np.concatenate((silence(500), tone(300, 3000))))] == [
        SpeechStarted
    ]
    vad.reset()
    assert not vad.in_speech
    events = run(vad, np.concatenate((silence(1000), tone(300, 3000))))
    assert events == [SpeechStarted(audio_start_ms=1800 - 333)]
    assert vad.position_ms == 2100


def test_quieter_than_threshold_speech_is_ignored() -> None:
    # RMS 600 (-35 dBFS) is speech for threshold 0.5 (-36 dBFS) but not for 0.85 (-29 dBFS).
    signal = np.concatenate((tone(600, 600), silence(800)))
    assert len(run(EnergyVad(RATE, 0.5), signal)) == 2
    assert run(EnergyVad(RATE, 0.85), signal) == []


@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("voice", ["en-us", "en-us+f3", "en-us+m3"])
def test_espeak_speech_is_one_turn_at_every_threshold(threshold: float, voice: str) -> None:
    spoken = SpeechSynthesizer(voice=voice).synthesize("Hello, what is the weather in Paris?")
    resampler = StreamResampler(spoken.rate, RATE)
    voice_audio = np.concatenate((resampler.process(spoken.samples), resampler.flush()))
    vad = EnergyVad(RATE, threshold=threshold, prefix_padding_ms=0, silence_duration_ms=500)

    events = run(vad, np.concatenate((silence(500), voice_audio, silence(1000))))

    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    started, stopped = events
    assert isinstance(started, SpeechStarted) and isinstance(stopped, SpeechStopped)
    voice_ms = voice_audio.size * 1000 / RATE
    assert 500 <= started.audio_start_ms <= 700
    assert stopped.speech_ms >= 0.8 * voice_ms
