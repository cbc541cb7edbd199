"""The simulated-caller bridge against the real simulator, without Ray: two sessions, audio
both ways at real-time pace (scaled), hang-up by the caller's own tool, and the limits."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from pydantic import SecretStr
from voxray.actors.cassette.format import load_cassette
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.caller import END_CALL_TOOL, CallerSpec, caller_agent
from voxray.actors.conversation.caller_bridge import CallerBridge, CallerCall
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import ScenarioScript
from voxray.actors.session import SessionRequest, play_scenario
from voxray.actors.simulator.rules import BrainRule, BrainScript, ScriptedCall
from voxray.actors.simulator.server import Simulator
from voxray.actors.tools.executor import ToolExecutor
from voxray.actors.tools.inprocess import InProcessToolBackend

from tests.conftest import TEST_SPEED

SPEC = CallerSpec(persona="A traveller in a hurry.", goal="book a taxi", max_turns=4)

AGENT_LINES = ("My name is John. How can I help?", "Your taxi is booked.")
CALLER_LINES = ("I need a taxi to the airport.", "At seven tonight.", "Thank you, goodbye.")

AGENT_RULES = BrainScript(
    rules=[BrainRule(turn=1, reply=AGENT_LINES[0]), BrainRule(turn=2, reply=AGENT_LINES[1])],
    default_reply="Anything else?",
)

CALLER_RULES = BrainScript(
    rules=[
        # Turn 1 is the call connecting: the caller opens.
        BrainRule(turn=1, reply=CALLER_LINES[0]),
        BrainRule(turn=2, reply=CALLER_LINES[1]),
        BrainRule(
            turn=3,
            preamble=CALLER_LINES[2],
            calls=[
                ScriptedCall(
                    name="end_call", arguments={"outcome": "success", "reason": "taxi booked"}
                )
            ],
        ),
    ],
    default_reply="Okay.",
)


def _heard_s(result: SessionResult) -> list[float]:
    """How long each stretch of speech a side's server heard lasted, in seconds (the
    simulator, not transcribing, reports what it heard as ``[speech 1.5 s]``)."""
    texts = [str(e.detail["text"]) for e in result.timeline if e.kind == "user_transcript"]
    return [float(re.fullmatch(r"\[speech (\S+) s\]", text)[1]) for text in texts]  # type: ignore[index]


def _said_s(call: CallerCall, speaker: str) -> list[float]:
    return [
        (line.end_ms - line.start_ms) / 1000 for line in call.dialogue if line.speaker == speaker
    ]


async def _call(
    simulator: Simulator, spec: CallerSpec, agent_rules: BrainScript, caller_rules: BrainScript
) -> tuple[CallerCall, Conversation, Conversation]:
    tuning = EngineTuning(speed=TEST_SPEED, connect_timeout_s=5)
    agent_config = AgentConfig()
    bridge = CallerBridge(spec, speed=TEST_SPEED, rate=tuning.recording_rate)

    def endpoint(rules: BrainScript) -> ProviderEndpoint:
        return ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(rules)))

    agent = Conversation(
        agent_config,
        endpoint(agent_rules),
        tuning,
        ToolExecutor(agent_config.tools, InProcessToolBackend()),
        session_id="agent",
    )
    caller = Conversation(
        caller_agent(spec, agent_config),
        endpoint(caller_rules),
        tuning,
        ToolExecutor((END_CALL_TOOL,), bridge.desk),
        session_id="caller",
    )
    call = await bridge.run(agent, caller)
    return call, agent, caller


async def test_caller_and_agent_hear_each_other_and_the_caller_hangs_up(
    simulator: Simulator,
) -> None:
    call, agent, caller = await _call(simulator, SPEC, AGENT_RULES, CALLER_RULES)
    assert call.outcome.outcome == "success", call.outcome
    assert call.outcome.reason == "taxi booked"
    assert call.agent.status == "completed", call.agent.error
    assert call.caller.status == "completed", call.caller.error
    # Both sessions are closed.
    assert agent.state.value == "closed" and caller.state.value == "closed"
    assert [(line.speaker, line.text) for line in call.dialogue] == [
        ("caller", CALLER_LINES[0]),
        ("agent", AGENT_LINES[0]),
        ("caller", CALLER_LINES[1]),
        ("agent", AGENT_LINES[1]),
        ("caller", CALLER_LINES[2]),
    ]
    # Turn-taking: nobody talks over the other; the lines follow one another on one timeline.
    for before, after in zip(call.dialogue, call.dialogue[1:], strict=False):
        assert before.end_ms <= after.start_ms, (before, after)
    # Each side heard the other's speech, each utterance once and as long as it was said, and
    # nothing else: a side whose own voice came back to it would hear its own lines too.
    agent_heard, caller_said = _heard_s(call.agent), _said_s(call, "caller")
    caller_heard, agent_said = _heard_s(call.caller), _said_s(call, "agent")
    assert len(agent_heard) == len(caller_said) == 3, (agent_heard, caller_said)
    assert len(caller_heard) == len(agent_said) == 2, (caller_heard, agent_said)
    for heard, said in [
        *zip(agent_heard, caller_said, strict=True),
        *zip(caller_heard, agent_said, strict=True),
    ]:
        assert abs(heard - said) < 0.5, (heard, said)
    # The agent's record reads as a dialogue: the caller's turns and the agent's answers.
    assert [(t.user_transcript, t.agent_transcript) for t in call.agent.turns] == [
        (CALLER_LINES[0], AGENT_LINES[0]),
        (CALLER_LINES[1], AGENT_LINES[1]),
        (CALLER_LINES[2], ""),
    ]
    # The caller's hang-up went to the bridge, not to a tool runner.
    assert [c.name for c in call.caller.tool_calls] == ["end_call"]
    assert call.caller.tool_calls[0].ok
    # Audio moved at real-time pace (scaled), never faster: the agent's session clock (since it
    # was ready) ran at least as long as the audio the bridge moved into it. (Slower would be
    # a busy machine, which tests do not time; the pacer's lateness is in the metrics.)
    assert call.agent.audio_in_ms <= call.agent.duration_ms + 100, call.agent
    assert call.agent.metrics.frame_lateness_p50_ms is not None


async def test_a_caller_that_never_hangs_up_is_stopped_at_max_turns(simulator: Simulator) -> None:
    spec = SPEC.model_copy(update={"max_turns": 2})
    chatty = BrainScript(default_reply="Tell me more.")
    call, agent, caller = await _call(simulator, spec, BrainScript(default_reply="Sure."), chatty)
    assert call.outcome.outcome == "limit"
    assert "max_turns (2)" in call.outcome.reason
    speakers = [line.speaker for line in call.dialogue]
    assert speakers == ["caller", "agent", "caller", "agent"]
    assert agent.state.value == "closed" and caller.state.value == "closed"


async def test_a_caller_that_never_hangs_up_is_stopped_at_max_duration(
    simulator: Simulator,
) -> None:
    spec = SPEC.model_copy(update={"max_turns": 50, "max_duration_s": 6.0})
    chatty = BrainScript(default_reply="Tell me more about that please.")
    call, agent, caller = await _call(simulator, spec, BrainScript(default_reply="Sure."), chatty)
    assert call.outcome.outcome == "limit"
    assert "max_duration_s (6 s)" in call.outcome.reason
    assert 6000 <= call.agent.audio_in_ms <= 6000 + 20
    assert agent.state.value == "closed" and caller.state.value == "closed"


def _call_request(
    simulator: Simulator,
    agent_script: BrainScript,
    caller_script: BrainScript,
    *,
    spec: CallerSpec = SPEC,
    record: Path | None = None,
    replay: Path | None = None,
) -> SessionRequest:
    if replay is not None:  # each session from its own side of the call's cassette
        agent_script = agent_script.model_copy(update={"replay": str(replay / "agent")})
        caller_script = caller_script.model_copy(update={"replay": str(replay / "caller")})
    tuning = EngineTuning(speed=TEST_SPEED, connect_timeout_s=5)
    return SessionRequest(
        session_id="call",
        agent=AgentConfig(),
        script=ScenarioScript(caller=spec),
        endpoint=ProviderEndpoint(
            url=simulator.url, api_key=SecretStr(simulator.register(agent_script))
        ),
        caller_endpoint=ProviderEndpoint(
            url=simulator.url, api_key=SecretStr(simulator.register(caller_script))
        ),
        tuning=tuning,
        record_dir=str(record) if record is not None else None,
    )


async def test_a_recorded_call_replays_each_session_from_its_own_cassette(
    simulator: Simulator, tmp_path: Path
) -> None:
    run = tmp_path / "book-a-taxi"
    recorded = await play_scenario(
        _call_request(simulator, AGENT_RULES, CALLER_RULES, record=run), InProcessToolBackend()
    )
    assert recorded.status == "completed", recorded.error
    assert recorded.caller is not None and recorded.caller.outcome.outcome == "success"
    assert {path.name for path in run.iterdir()} == {"agent", "caller"}
    agent_side, caller_side = load_cassette(run / "agent"), load_cassette(run / "caller")
    assert agent_side.meta.scenario == "book-a-taxi/agent"
    assert [call.name for call in caller_side.meta.tool_outputs] == ["end_call"]
    assert agent_side.meta.session is not None and caller_side.meta.session is not None
    assert "A traveller in a hurry." in caller_side.meta.session["instructions"]

    # Replayed (the simulator's brains are not consulted): the same call, both sides.
    replayed = await play_scenario(
        _call_request(simulator, BrainScript(), BrainScript(), replay=run), InProcessToolBackend()
    )
    assert replayed.status == "completed", replayed.error
    assert replayed.caller is not None
    assert replayed.caller.outcome == recorded.caller.outcome
    assert CALLER_LINES[0] in [line.text for line in recorded.caller.dialogue]
    assert [(line.speaker, line.text) for line in replayed.caller.dialogue] == [
        (line.speaker, line.text) for line in recorded.caller.dialogue
    ]

    # A changed persona changes what the caller's session sends: the replay names that side.
    changed = SPEC.model_copy(update={"persona": "A tourist with all the time in the world."})
    diverged = await play_scenario(
        _call_request(simulator, BrainScript(), BrainScript(), spec=changed, replay=run),
        InProcessToolBackend(),
    )
    assert diverged.status == "failed"
    assert "the caller's session: recorded frame #0" in (diverged.error or "")
    assert "session.instructions" in (diverged.error or "")


async def test_the_line_transforms_only_what_the_agent_hears(simulator: Simulator) -> None:
    # A dead line (a condition at its extreme): the caller speaks, the agent hears nothing.
    spec = SPEC.model_copy(update={"max_duration_s": 4.0})
    tuning = EngineTuning(speed=TEST_SPEED, connect_timeout_s=5)
    bridge = CallerBridge(spec, speed=TEST_SPEED, line=np.zeros_like)
    agent = Conversation(
        AgentConfig(),
        ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(AGENT_RULES))),
        tuning,
        ToolExecutor((), InProcessToolBackend()),
        session_id="agent",
    )
    caller = Conversation(
        caller_agent(spec, AgentConfig()),
        ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(CALLER_RULES))),
        tuning,
        ToolExecutor((END_CALL_TOOL,), bridge.desk),
        session_id="caller",
    )
    call = await bridge.run(agent, caller)
    assert [line.speaker for line in call.dialogue] == ["caller"]
    assert _heard_s(call.agent) == []
    assert call.outcome.outcome == "limit" and "max_duration_s" in call.outcome.reason
