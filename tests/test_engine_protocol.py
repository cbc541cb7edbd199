"""Protocol behaviours of the engine: ready gate, timeouts, queueing, tools, formats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import numpy as np
import pytest
from aiohttp import web
from pydantic import SecretStr
from voxray.actors.audio.speech import SpeechSynthesizer
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.events import ConversationEvent, ResponseFinished, UserSpeechStarted
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import ScenarioScript, TextTurn
from voxray.actors.errors import ConnectTimeoutError
from voxray.actors.session import SessionRequest, play_scenario
from voxray.actors.simulator.rules import BrainRule, BrainScript, ScriptedCall
from voxray.actors.simulator.server import Simulator
from voxray.actors.tools.executor import ToolExecutor
from voxray.actors.tools.inprocess import InProcessToolBackend

from tests.conftest import TEST_SPEED
from tests.local_websocket import serve_websocket

WEATHER = "voxray.examples.tools:get_weather"


def _endpoint(url: str, token: str) -> ProviderEndpoint:
    return ProviderEndpoint(url=url, api_key=SecretStr(token))


async def _play(
    simulator: Simulator, script: ScenarioScript, rules: BrainScript, agent: AgentConfig
) -> SessionResult:
    request = SessionRequest(
        session_id="protocol",
        agent=agent,
        script=script,
        endpoint=_endpoint(simulator.url, simulator.register(rules)),
        tuning=EngineTuning(speed=TEST_SPEED),
    )
    return await play_scenario(request, InProcessToolBackend())


async def test_audio_captured_before_the_session_is_ready_is_kept_in_order(
    simulator: Simulator,
) -> None:
    conversation = Conversation(
        AgentConfig(),
        _endpoint(simulator.url, simulator.register(BrainScript())),
        EngineTuning(speed=TEST_SPEED),
        ToolExecutor((), InProcessToolBackend()),
        session_id="early",
    )
    heard = asyncio.Event()

    def on_event(event: ConversationEvent) -> None:
        if isinstance(event, UserSpeechStarted):
            heard.set()

    conversation.add_listener(on_event)
    speech = SpeechSynthesizer().synthesize("Hello, can you hear me?")
    # Spoken before connect() even started: the ready gate holds it, then flushes it in order.
    conversation.send_audio(speech.samples, rate=speech.rate, channels=1)
    conversation.send_audio(np.zeros(speech.rate, dtype=np.int16), rate=speech.rate, channels=1)
    try:
        await conversation.start()
        await asyncio.wait_for(heard.wait(), timeout=10)
    finally:
        await conversation.aclose()


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts the websocket, then never says a word (no session.updated)."""

    async def handle(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for _ in socket:
            pass
        return socket

    async with serve_websocket(handle) as url:
        yield url


async def test_no_session_updated_within_the_timeout_is_a_clear_error(silent_server: str) -> None:
    conversation = Conversation(
        AgentConfig(),
        _endpoint(silent_server, "k"),
        EngineTuning(connect_timeout_s=0.5),
        ToolExecutor((), InProcessToolBackend()),
        session_id="silent",
    )
    with pytest.raises(ConnectTimeoutError, match=r"session\.updated"):
        await conversation.start()
    await conversation.aclose()
    await conversation.aclose()  # idempotent


async def test_a_second_response_request_waits_for_the_first(simulator: Simulator) -> None:
    conversation = Conversation(
        AgentConfig(),
        _endpoint(
            simulator.url,
            simulator.register(
                BrainScript(
                    rules=[
                        BrainRule(heard="first", reply="This is the first answer."),
                        BrainRule(heard="second", reply="And this is the second one."),
                    ]
                )
            ),
        ),
        EngineTuning(speed=TEST_SPEED),
        ToolExecutor((), InProcessToolBackend()),
        session_id="queue",
    )
    finished: list[ResponseFinished] = []
    both = asyncio.Event()

    def on_event(event: ConversationEvent) -> None:
        if isinstance(event, ResponseFinished):
            finished.append(event)
            if len(finished) == 2:
                both.set()

    conversation.add_listener(on_event)
    await conversation.start()
    try:
        conversation.send_text("the first question")
        conversation.send_text("the second question")  # while the first is still active
        await asyncio.wait_for(both.wait(), timeout=15)
    finally:
        await conversation.aclose()
    assert [f.status for f in finished] == ["completed", "completed"]
    transcripts = [r.transcript for r in conversation.response_records()]
    assert "first" in transcripts[0] and "second" in transcripts[1]


async def test_parallel_calls_get_every_output_then_one_follow_up(simulator: Simulator) -> None:
    rules = BrainScript(
        rules=[
            BrainRule(
                turn=1,
                preamble="Let me check both cities.",
                calls=[
                    ScriptedCall(name="get_weather", arguments={"city": "Paris"}),
                    ScriptedCall(name="get_weather", arguments={"city": "Rome"}),
                    ScriptedCall(name="raise_value_error", arguments={"message": "broken"}),
                ],
                after_tool="Done checking.",
            )
        ]
    )
    agent = AgentConfig(
        tools=[WEATHER, "tests.tool_fixtures:raise_value_error"]  # type: ignore[list-item]
    )
    result = await _play(
        simulator, ScenarioScript(turns=(TextTurn(text="Paris and Rome?"),)), rules, agent
    )
    assert result.status == "completed", result.error
    cities = [json.loads(call.arguments).get("city") for call in result.tool_calls[:2]]
    assert sorted(cities) == ["Paris", "Rome"]
    failed = result.tool_calls[2]
    assert not failed.ok and json.loads(failed.output)["error"]["type"] == "exception"
    # The model spoke a preamble before calling: the follow-up response is still requested.
    (turn,) = result.turns
    assert "check both" in turn.agent_transcript.lower()
    assert "done checking" in turn.agent_transcript.lower()
    assert result.metrics.responses == 2


async def test_a_tool_that_times_out_gets_an_error_output(simulator: Simulator) -> None:
    rules = BrainScript(
        rules=[
            BrainRule(
                turn=1,
                # In-process, a hung thread cannot be killed (the pool kills its runner): keep
                # it short so the test's thread ends soon after the timeout.
                calls=[ScriptedCall(name="hang_sync", arguments={"seconds": 1.5})],
                after_tool="That took too long.",
            )
        ]
    )
    agent = AgentConfig(
        tools=[{"ref": "tests.tool_fixtures:hang_sync", "timeout_s": 0.3}]  # type: ignore[list-item]
    )
    result = await _play(simulator, ScenarioScript(turns=(TextTurn(text="go"),)), rules, agent)
    assert result.status == "completed", result.error
    (call,) = result.tool_calls
    assert call.error_type == "timeout" and not call.ok
    assert "too long" in result.agent_transcript.lower()


@pytest.mark.parametrize(
    ("input_audio", "output_audio"),
    [
        ({"encoding": "pcm", "rate": 16000}, {"encoding": "pcm", "rate": 16000}),
        ({"encoding": "pcmu", "rate": 8000}, {"encoding": "pcma", "rate": 8000}),
    ],
    ids=["pcm16k", "g711"],
)
async def test_other_wire_formats_are_heard_and_recorded(
    simulator: Simulator, input_audio: dict[str, object], output_audio: dict[str, object]
) -> None:
    from voxray.actors.conversation.script import SayTurn

    agent = AgentConfig.model_validate({"input_audio": input_audio, "output_audio": output_audio})
    result = await _play(
        simulator,
        ScenarioScript(turns=(SayTurn(say="Hello there, how are you today?"),)),
        BrainScript(rules=[BrainRule(turn=1, reply="I am fine, thank you.")]),
        agent,
    )
    assert result.status == "completed", result.error
    (turn,) = result.turns
    assert turn.response_latency_ms is not None and turn.agent_audio_ms > 500
    assert result.recording is not None and result.recording.rate == 24_000
    stereo = np.frombuffer(result.recording.pcm, dtype=np.int16).reshape(-1, 2).astype(float)
    assert np.sqrt(np.mean(stereo[:, 0] ** 2)) > 200 and np.sqrt(np.mean(stereo[:, 1] ** 2)) > 200
