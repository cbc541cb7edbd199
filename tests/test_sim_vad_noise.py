"""The simulator's VAD under the caller conditions: it follows the noise floor, and the
documented threshold decides whether a short backchannel starts a turn."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from voxray.actors.audio.conditions import CallerCondition, NoiseConfig
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.audio.speech import SpeechSynthesizer
from voxray.actors.simulator.vad import EnergyVad, SpeechStarted, SpeechStopped, VadEvent

RATE = 24_000
CHUNK = RATE // 10


def _speech(text: str) -> NDArray[np.int16]:
    audio = SpeechSynthesizer().synthesize(text)
    resampler = StreamResampler(audio.rate, RATE)
    return np.concatenate((resampler.process(audio.samples), resampler.flush()))


def _feed(vad: EnergyVad, signal: NDArray[np.int16], chunk: int = CHUNK) -> list[VadEvent]:
    events: list[VadEvent] = []
    for start in range(0, signal.size, chunk):
        events += vad.feed(signal[start : start + chunk])
    return events


def _noisy(kind: str, snr_db: float, speech: NDArray[np.int16]) -> NDArray[np.int16]:
    """1 s of noise, the speech, 3 s of noise: as a caller line would send them."""
    line = CallerCondition(noise=NoiseConfig(kind=kind, snr_db=snr_db)).line(RATE, seed=4)  # type: ignore[arg-type]
    assert line is not None
    line.hear_utterance(speech)
    clean = np.concatenate((np.zeros(RATE, np.int16), speech, np.zeros(3 * RATE, np.int16)))
    clean = clean[: clean.size - clean.size % CHUNK]
    return np.concatenate([line(clean[i : i + CHUNK]) for i in range(0, clean.size, CHUNK)])


@pytest.mark.parametrize(("kind", "snr_db"), [("white", 10.0), ("pink", 10.0), ("brown", 15.0)])
def test_a_turn_under_steady_noise_ends_when_the_caller_stops(kind: str, snr_db: float) -> None:
    speech = _speech("What is the weather like in Paris today?")
    heard = _noisy(kind, snr_db, speech)
    speech_end_ms = 1000 + speech.size * 1000 // RATE
    tracking = _feed(EnergyVad(RATE, track_noise=True), heard)
    assert [type(event) for event in tracking] == [SpeechStarted, SpeechStopped]
    stopped = tracking[1]
    assert isinstance(stopped, SpeechStopped)
    assert speech_end_ms - 300 <= stopped.audio_end_ms <= speech_end_ms + 800
    # Without following the floor, the same noise holds the turn open (or opens it at once).
    levels_only = _feed(EnergyVad(RATE), heard)
    assert [type(event) for event in levels_only] != [SpeechStarted, SpeechStopped] or (
        levels_only[0].audio_start_ms < 900  # type: ignore[union-attr]
    )


def test_noise_tracking_does_not_depend_on_chunking() -> None:
    heard = _noisy("pink", 10.0, _speech("Book a table for two at eight, please."))
    by_chunk = [_feed(EnergyVad(RATE, track_noise=True), heard, chunk) for chunk in (240, 2400, 7)]
    assert by_chunk[0] == by_chunk[1] == by_chunk[2]


def test_noise_tracking_changes_nothing_over_silence() -> None:
    speech = _speech("Hello there, how are you?")
    signal = np.concatenate((np.zeros(RATE // 2, np.int16), speech, np.zeros(RATE, np.int16)))
    assert _feed(EnergyVad(RATE, track_noise=True), signal) == _feed(EnergyVad(RATE), signal)


@pytest.mark.parametrize("word", ["uh-huh", "right", "mm-hmm"])
def test_a_short_backchannel_starts_a_turn_and_the_threshold_decides(word: str) -> None:
    backchannel = _speech(word)
    assert backchannel.size < RATE * 0.6  # a short sound, well under a second
    signal = np.concatenate((np.zeros(RATE // 2, np.int16), backchannel, np.zeros(RATE, np.int16)))
    loud = _feed(EnergyVad(RATE, threshold=0.85, track_noise=True), signal)
    assert [type(event) for event in loud] == [SpeechStarted, SpeechStopped]
    # The same word mumbled 20 dB lower: under the default threshold, over a sensitive one.
    quiet = (signal.astype(np.float64) * 10 ** (-20 / 20)).astype(np.int16)
    assert _feed(EnergyVad(RATE, threshold=0.85, track_noise=True), quiet) == []
    assert len(_feed(EnergyVad(RATE, threshold=0.3, track_noise=True), quiet)) == 2


def test_the_simulator_follows_the_noise_floor_only_for_noisy_callers() -> None:
    from voxray.evals.suite import ScenarioSpec as Scenario

    quiet = Scenario.model_validate({"name": "q", "turns": [{"text": "hi"}]})
    noisy = Scenario.model_validate(
        {"name": "n", "turns": [{"text": "hi"}], "condition": "noisy-cafe"}
    )
    assert not quiet.sim_script().track_noise
    assert noisy.sim_script().track_noise
