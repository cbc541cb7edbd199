"""The conversation engine under the simulator's faults: it recovers, or ends with the reason."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import ScenarioScript, TextTurn, UserTurn, WaitTurn
from voxray.actors.session import SessionRequest, play_scenario
from voxray.actors.simulator.faults import FaultPlan
from voxray.actors.simulator.rules import BrainRule, BrainScript
from voxray.actors.simulator.server import Simulator
from voxray.actors.tools.inprocess import InProcessToolBackend

from tests.conftest import TEST_SPEED

RULES = [
    BrainRule(heard="hours", reply="We open at nine."),
    BrainRule(heard="thanks", reply="You are welcome."),
]


async def _play(
    simulator: Simulator,
    turns: tuple[UserTurn, ...],
    faults: dict[str, Any],
    *,
    agent: AgentConfig | None = None,
    tuning: EngineTuning | None = None,
) -> SessionResult:
    token = simulator.register(BrainScript(rules=RULES, faults=FaultPlan.model_validate(faults)))
    request = SessionRequest(
        session_id="faults",
        agent=agent or AgentConfig(),
        script=ScenarioScript(turns=turns, reply_timeout_s=20),
        endpoint=ProviderEndpoint(url=simulator.url, api_key=SecretStr(token)),
        tuning=tuning or EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
    )
    return await play_scenario(request, InProcessToolBackend())


def _kinds(result: SessionResult, code: str) -> list[str]:
    return [e.kind for e in result.timeline if e.detail.get("code") == code]


async def test_drop_mid_response_reconnects_and_still_answers(simulator: Simulator) -> None:
    result = await _play(
        simulator,
        (TextTurn(text="What are your hours?"),),
        {"actions": [{"do": "drop", "mid_response": 1, "times": 1}]},
    )
    assert result.status == "completed", result.error
    assert result.metrics.reconnects == 1
    assert _kinds(result, "reconnecting"), "the drop is reported on the timeline"
    # The re-seeded conversation still holds the question, and the answer was asked for again.
    assert "nine" in result.agent_transcript.lower()


async def test_error_events_and_malformed_frames_do_not_end_the_session(
    simulator: Simulator,
) -> None:
    result = await _play(
        simulator,
        (TextTurn(text="What are your hours?"), TextTurn(text="thanks")),
        {
            "actions": [
                {"do": "error", "type": "internal_error", "after_events": 3},
                {"do": "malformed", "after_events": 5},
                {"do": "unknown_event", "type": "response.mystery", "after_events": 6},
            ],
            "quirks": "all",
        },
    )
    assert result.status == "completed", result.error
    assert result.metrics.provider_errors >= 1
    assert result.metrics.malformed_frames >= 1
    assert "welcome" in result.turns[1].agent_transcript.lower()


async def test_max_duration_rolls_over_to_a_new_connection(simulator: Simulator) -> None:
    result = await _play(
        simulator,
        (TextTurn(text="What are your hours?"), WaitTurn(wait_ms=12_000), TextTurn(text="thanks")),
        {"max_duration_s": 1.0},
    )
    assert result.status == "completed", result.error
    assert result.metrics.reconnects >= 1
    assert "welcome" in result.turns[2].agent_transcript.lower()


async def test_planned_rollover_between_turns_is_seamless(simulator: Simulator) -> None:
    result = await _play(
        simulator,
        (TextTurn(text="What are your hours?"), WaitTurn(wait_ms=2_000), TextTurn(text="thanks")),
        {},
        tuning=EngineTuning(speed=TEST_SPEED, rollover_after_s=0.05),
    )
    assert result.status == "completed", result.error
    assert result.metrics.reconnects >= 1
    assert not _kinds(result, "reconnecting"), "a planned rollover is not an error"
    assert "welcome" in result.turns[2].agent_transcript.lower()


async def test_inactivity_timeout_ends_the_session_with_its_reason(simulator: Simulator) -> None:
    result = await _play(
        simulator,
        (TextTurn(text="What are your hours?"), WaitTurn(wait_ms=30_000)),
        {"inactivity_timeout_s": 0.5},
        agent=AgentConfig(turn_detection=None),  # manual turns: no silence is streamed
    )
    assert result.status == "failed"
    assert result.error is not None and "timeout" in result.error.lower()
    assert "nine" in result.turns[0].agent_transcript.lower(), "what was done is kept"


async def test_rate_limited_handshake_is_a_retryable_failure(simulator: Simulator) -> None:
    result = await _play(
        simulator, (TextTurn(text="What are your hours?"),), {"refuse": {"status": 429}}
    )
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("RateLimitedError")


async def test_a_response_cut_by_a_drop_leaves_no_fragment_in_the_transcript(
    simulator: Simulator,
) -> None:
    # The socket resets right after the answer's first words reached the transcript; the
    # answer is asked for again on the new connection and must appear once, whole.
    drop = {"do": "drop", "on_event": "response.output_audio_transcript.delta", "times": 1}
    result = await _play(simulator, (TextTurn(text="What are your hours?"),), {"actions": [drop]})
    assert result.status == "completed", result.error
    assert result.metrics.reconnects == 1
    assert [turn.agent_transcript for turn in result.turns] == ["We open at nine."]
    assert result.agent_transcript == "We open at nine."
