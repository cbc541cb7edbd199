"""Backchannels: an "uh-huh" over the agent, which must not stop it, and the count of the times
it did (metrics.false_interruptions, expect.max_false_interruptions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr
from voxray.actors.audio.conditions import CallerCondition, NoiseConfig
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.audio.speech import SpeechSynthesizer
from voxray.actors.audio.wav import write_wav
from voxray.actors.conversation.agent import AgentConfig, ServerVadConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import BackchannelTurn, SayTurn, ScenarioScript, TextTurn
from voxray.actors.errors import ConfigError
from voxray.actors.session import SessionRequest, play_scenario
from voxray.actors.simulator.rules import BrainRule, BrainScript
from voxray.actors.simulator.server import Simulator
from voxray.actors.tools.inprocess import InProcessToolBackend
from voxray.evals.scoring import score
from voxray.evals.suite import ScenarioSpec, load_suite

from tests.conftest import TEST_SPEED

LONG_REPLY = (
    "Our store opens at nine in the morning and closes at six in the evening, every day of "
    "the week except Sunday, when we open at ten and close at four in the afternoon."
)
RULES = BrainScript(
    rules=[BrainRule(turn=1, reply=LONG_REPLY), BrainRule(turn=2, reply="Anything else?")]
)


async def _play(simulator: Simulator, threshold: float) -> tuple[ScenarioSpec, SessionResult]:
    spec = ScenarioSpec.model_validate(
        {
            "name": "backchannel",
            "agent": {"turn_detection": {"threshold": threshold}},
            "turns": [
                {"say": "When are you open?"},
                {"backchannel": "mm-hmm", "after_ms": 1500, "level_db": -20},
            ],
            "expect": {"max_false_interruptions": 0},
        }
    )
    request = SessionRequest(
        session_id="backchannel",
        agent=spec.agent,
        script=spec.script(),
        endpoint=ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(RULES))),
        tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
    )
    return spec, await play_scenario(request, InProcessToolBackend())


async def test_a_soft_backchannel_does_not_stop_an_agent_with_the_default_threshold(
    simulator: Simulator,
) -> None:
    spec, result = await _play(simulator, threshold=0.85)
    assert result.status == "completed", result.error
    question, backchannel = result.turns
    assert backchannel.kind == "backchannel" and not backchannel.interrupted_agent
    assert result.metrics.false_interruptions == 0 and result.metrics.interruptions == 0
    assert "sunday" in question.agent_transcript.lower()  # the whole answer played
    verdict = score(spec, result)
    assert verdict.passed, [c for c in verdict.checks if not c.passed]


async def test_a_sensitive_vad_is_cut_off_by_the_same_backchannel(simulator: Simulator) -> None:
    spec, result = await _play(simulator, threshold=0.3)
    assert result.status == "completed", result.error
    _, backchannel = result.turns
    assert backchannel.interrupted_agent
    assert result.metrics.false_interruptions == 1
    check = next(c for c in score(spec, result).checks if c.name == "false interruptions")
    assert not check.passed and "backchannel of turn 2" in check.got


def test_a_backchannel_needs_an_answer_to_talk_over(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: s\nscenarios:\n  - name: a\n    turns:\n      - backchannel: uh-huh\n"
        "      - say: hello\n"
    )
    with pytest.raises(ConfigError, match=r"turns\[0\]\.backchannel: a backchannel turn"):
        load_suite(suite)


def test_backchannel_turn_defaults() -> None:
    turn = BackchannelTurn(backchannel="right")
    assert (turn.after_ms, turn.level_db) == (800, 0.0)
    assert ScenarioScript(turns=(SayTurn(say="hi"), turn)).turns[1] == turn
    assert AgentConfig(turn_detection=ServerVadConfig(threshold=0.3)).turn_detection is not None


async def test_a_talker_nearby_while_the_caller_listens_is_a_false_barge_in(
    simulator: Simulator, tmp_path: Path
) -> None:
    # A café: someone else asks a question now and then (a noise WAV of the user's own).
    rate = 24_000
    talker = _speech_at(rate, "Excuse me, is this seat taken?")
    bed = np.zeros(rate * 5, dtype=np.int16)
    bed[rate : rate + talker.size] = talker
    write_wav(tmp_path / "cafe.wav", bed, rate)
    condition = CallerCondition(
        noise=NoiseConfig(kind="file", snr_db=0, path=tmp_path / "cafe.wav")
    )
    script = ScenarioScript(turns=(TextTurn(text="When are you open?"),), condition=condition)
    request = SessionRequest(
        session_id="cafe",
        agent=AgentConfig(),
        script=script,
        endpoint=ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(RULES))),
        tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
    )
    result = await play_scenario(request, InProcessToolBackend())
    assert result.status == "completed", result.error
    # The caller never spoke, yet the agent was cut off: every such stop is a false one.
    assert result.metrics.interruptions >= 1
    assert result.metrics.false_interruptions == result.metrics.interruptions


def _speech_at(rate: int, text: str) -> np.ndarray:
    audio = SpeechSynthesizer().synthesize(text)
    resampler = StreamResampler(audio.rate, rate)
    return np.concatenate((resampler.process(audio.samples), resampler.flush()))
