"""A caller condition reaches the session: the simulator's VAD and transcription hear the
degraded audio, and the recording keeps it (engine against the simulator, without Ray)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest
from pydantic import SecretStr
from voxray.actors.audio.conditions import (
    CallerCondition,
    NoiseConfig,
    PacketLossConfig,
    SpeakerConfig,
)
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import SayTurn, ScenarioScript
from voxray.actors.session import SessionRequest, play_scenario
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.simulator.server import Simulator
from voxray.actors.simulator.transcription import Transcriber
from voxray.actors.tools.inprocess import InProcessToolBackend
from voxray.evals.wer import word_error_rate

from tests.conftest import TEST_SPEED

QUESTION = "What is the weather like in Paris today?"


@pytest.fixture
async def transcribing() -> AsyncIterator[Simulator]:
    if not Transcriber(enabled=True).active:
        pytest.skip("pocketsphinx is not installed (the `transcribe` extra)")
    async with Simulator(SimulatorConfig(speed=TEST_SPEED, transcribe=True)) as simulator:
        yield simulator


async def _ask(simulator: Simulator, condition: CallerCondition | None) -> SessionResult:
    # As the driver does (ScenarioSpec.sim_script): a noisy caller's VAD follows the floor.
    brain = BrainScript(track_noise=condition is not None and condition.noise is not None)
    request = SessionRequest(
        session_id="condition",
        agent=AgentConfig(),
        script=ScenarioScript(turns=(SayTurn(say=QUESTION),), condition=condition, seed=3),
        endpoint=ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(brain))),
        tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
    )
    result = await play_scenario(request, InProcessToolBackend())
    assert result.status == "completed", result.error
    return result


def _user_channel(result: SessionResult) -> np.ndarray:
    assert result.recording is not None
    return np.frombuffer(result.recording.pcm, dtype=np.int16).reshape(-1, 2)[:, 0]


async def test_transcription_hears_the_lossy_line(transcribing: Simulator) -> None:
    clean = await _ask(transcribing, None)
    lossy = CallerCondition(
        packet_loss=PacketLossConfig(rate=0.35, burst_frames=4, concealment="silence")
    )
    degraded = await _ask(transcribing, lossy)
    heard_clean = clean.turns[0].user_transcript or ""
    heard_degraded = degraded.turns[0].user_transcript or ""
    wer_clean, _ = word_error_rate([(1, QUESTION, heard_clean)])
    wer_degraded, _ = word_error_rate([(1, QUESTION, heard_degraded)])
    # The recogniser heard the line: what it made of the lossy audio differs, and is no better.
    # (A strict "worse" flakes: pocketsphinx on espeak already misses words on clean audio, and
    # seen once, 'what is the day' vs 'what is the' scored the same.)
    assert heard_degraded != heard_clean, heard_clean
    assert wer_clean <= wer_degraded, (heard_clean, heard_degraded)
    # The recording is what the session got: a third of its 20 ms packets are digital silence.
    user = _user_channel(degraded)
    rate = degraded.recording.rate if degraded.recording else 24_000
    start = int((degraded.turns[0].user_speech_start_ms or 0) * rate / 1000)
    end = int((degraded.turns[0].user_speech_end_ms or 0) * rate / 1000)
    packets = user[start : end - (end - start) % (rate // 50)].reshape(-1, rate // 50)
    silent = np.mean(~packets.any(axis=1))
    assert 0.2 < silent < 0.6, silent


async def test_noise_reaches_the_vad_and_the_recording(simulator: Simulator) -> None:
    noisy = CallerCondition(noise=NoiseConfig(kind="pink", snr_db=10.0))
    result = await _ask(simulator, noisy)
    (turn,) = result.turns
    assert turn.first_agent_audio_ms is not None  # the VAD still found the end of the turn
    user = _user_channel(result).astype(np.float64)
    rate = result.recording.rate if result.recording else 24_000
    end = int((turn.user_speech_end_ms or 0) * rate / 1000)
    after = user[end + rate // 10 : end + rate]
    # Once the caller stops, the line is not silent: the room's noise stays on it.
    assert after.size == rate * 9 // 10 and np.sqrt(np.mean(after**2)) > 100
    kinds = [event.kind for event in result.timeline]
    assert kinds.count("user_speech_started") == kinds.count("user_speech_ended") >= 1


async def test_the_speaker_condition_changes_how_the_turn_is_spoken(simulator: Simulator) -> None:
    def spoken_ms(result: SessionResult) -> float:
        turn = result.turns[0]
        assert turn.user_speech_start_ms is not None and turn.user_speech_end_ms is not None
        return turn.user_speech_end_ms - turn.user_speech_start_ms

    clean = await _ask(simulator, None)
    fast = await _ask(simulator, CallerCondition(speaker=SpeakerConfig(rate_factor=1.5)))
    assert spoken_ms(fast) < 0.8 * spoken_ms(clean)
