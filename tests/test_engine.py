"""The conversation engine against the real simulator, without Ray."""

from __future__ import annotations

import json

import numpy as np
from pydantic import SecretStr
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import BargeInTurn, SayTurn, ScenarioScript, TextTurn
from voxray.actors.session import SessionRequest, play_scenario
from voxray.actors.simulator.rules import BrainRule, BrainScript, ScriptedCall
from voxray.actors.simulator.server import Simulator
from voxray.actors.tools.inprocess import InProcessToolBackend

from tests.conftest import TEST_SPEED

WEATHER = "voxray.examples.tools:get_weather"


async def _play(
    simulator: Simulator,
    script: ScenarioScript,
    *,
    rules: BrainScript | None = None,
    agent: AgentConfig | None = None,
    token: str | None = None,
) -> SessionResult:
    key = token or simulator.register(rules or BrainScript())
    request = SessionRequest(
        session_id="test",
        agent=agent or AgentConfig(),
        script=script,
        endpoint=ProviderEndpoint(url=simulator.url, api_key=SecretStr(key)),
        tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
    )
    return await play_scenario(request, InProcessToolBackend())


def _channels(result: SessionResult) -> tuple[np.ndarray, np.ndarray]:
    assert result.recording is not None
    stereo = np.frombuffer(result.recording.pcm, dtype=np.int16).reshape(-1, 2)
    return stereo[:, 0], stereo[:, 1]


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


async def test_text_turn_is_answered_with_the_scripted_reply(simulator: Simulator) -> None:
    rules = BrainScript(rules=[BrainRule(heard="opening hours", reply="We open at nine.")])
    result = await _play(
        simulator,
        ScenarioScript(turns=(TextTurn(text="What are your opening hours?"),)),
        rules=rules,
    )
    assert result.status == "completed", result.error
    (turn,) = result.turns
    assert "nine" in turn.agent_transcript.lower()
    assert turn.agent_audio_ms > 300
    assert turn.response_latency_ms is not None and turn.response_latency_ms >= 0
    _, agent = _channels(result)
    assert _rms(agent) > 300, "the agent's channel should hold audible speech"


async def test_spoken_turn_is_detected_by_vad_and_answered(simulator: Simulator) -> None:
    result = await _play(
        simulator, ScenarioScript(turns=(SayTurn(say="Hello there, how are you?"),))
    )
    assert result.status == "completed", result.error
    (turn,) = result.turns
    assert turn.user_speech_end_ms is not None and turn.first_agent_audio_ms is not None
    # The agent cannot answer before the user stopped speaking: VAD waits for the silence.
    assert turn.first_agent_audio_ms > turn.user_speech_end_ms
    kinds = [event.kind for event in result.timeline]
    assert kinds.index("user_speech_started") < kinds.index("user_speech_ended")
    assert kinds.index("user_speech_ended") < kinds.index("agent_speech_started")
    user, agent = _channels(result)
    assert _rms(user) > 300 and _rms(agent) > 300, "both sides should be audible"
    metrics = result.metrics
    assert metrics.frames_sent >= result.audio_in_ms // 100 - 1
    assert metrics.frame_lateness_p99_ms is not None and metrics.frame_lateness_max_ms is not None
    assert metrics.frame_lateness_p99_ms <= metrics.frame_lateness_max_ms
    assert metrics.dropped_audio_chunks == 0


async def test_tool_call_round_trip_speaks_the_result(simulator: Simulator) -> None:
    rules = BrainScript(
        rules=[
            BrainRule(
                turn=1,
                calls=[ScriptedCall(name="get_weather", arguments={"city": "Paris"})],
                after_tool="The weather in Paris: {output}",
            )
        ]
    )
    agent = AgentConfig(tools=[WEATHER])  # type: ignore[list-item]
    result = await _play(
        simulator,
        ScenarioScript(turns=(TextTurn(text="Weather in Paris?"),)),
        rules=rules,
        agent=agent,
    )
    assert result.status == "completed", result.error
    (call,) = result.tool_calls
    assert call.name == "get_weather" and call.ok
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert "paris" in result.agent_transcript.lower()


async def test_unknown_tool_gets_an_error_output_and_the_conversation_goes_on(
    simulator: Simulator,
) -> None:
    rules = BrainScript(
        rules=[BrainRule(turn=1, calls=[ScriptedCall(name="launch_rocket")], after_tool="Sorry.")]
    )
    result = await _play(
        simulator,
        ScenarioScript(turns=(TextTurn(text="Launch it"), TextTurn(text="Hello"))),
        rules=rules,
    )
    assert result.status == "completed", result.error
    (call,) = result.tool_calls
    assert not call.ok and call.error_type == "unknown_tool"
    assert json.loads(call.output)["error"]["type"] == "unknown_tool"
    assert len(result.turns) == 2 and result.turns[1].agent_transcript


async def test_refused_credentials_fail_with_a_clear_error(simulator: Simulator) -> None:
    result = await _play(
        simulator, ScenarioScript(turns=(TextTurn(text="hi"),)), token="not-a-valid-token"
    )
    assert result.status == "failed"
    assert result.error is not None and "AuthenticationError" in result.error
    assert "not-a-valid-token" not in result.error


async def test_barge_in_stops_the_agent_and_cuts_the_recording(simulator: Simulator) -> None:
    long_reply = (
        "Our store opens at nine in the morning and closes at six in the evening, "
        "every day of the week except Sunday, when we open at ten."
    )
    rules = BrainScript(
        rules=[
            BrainRule(turn=1, reply=long_reply),
            BrainRule(turn=2, reply="Sure, what else?"),
        ]
    )
    script = ScenarioScript(
        turns=(
            SayTurn(say="When are you open?"),
            BargeInTurn(barge_in="Wait, stop please.", after_ms=800),
        )
    )
    result = await _play(simulator, script, rules=rules)
    assert result.status == "completed", result.error
    first, second = result.turns
    assert not first.interrupted_agent
    assert second.interrupted_agent and second.barge_in_stop_ms is not None
    assert 0 <= second.barge_in_stop_ms < 1000
    assert "what else" in second.agent_transcript.lower()
    # The first answer was cut: far less of it played than its full length.
    assert first.agent_audio_ms > 0
    interrupted = next(e for e in result.timeline if e.kind == "interrupted")
    assert interrupted.detail["played_ms"] >= 500
    # The recording holds what a listener heard: silence on the agent channel right after the
    # cut, until the user's barge-in speech ends and the new answer starts.
    assert result.recording is not None
    _, agent = _channels(result)
    rate = result.recording.rate
    cut = int(interrupted.t_ms * rate / 1000)
    assert second.first_agent_audio_ms is not None
    resume = int(second.first_agent_audio_ms * rate / 1000)
    assert resume > cut + rate // 10
    assert _rms(agent[cut + rate // 100 : resume]) < 50
