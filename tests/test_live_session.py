"""Live sessions: text and scripted speech in, a typed event stream out; also through Ray."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import ray
from pydantic import SecretStr
from voxray.actors.audio.speech import SpeechSynthesizer
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.events import (
    AgentSpeechStarted,
    AgentTranscript,
    ConversationEvent,
    ResponseFinished,
    UserSpeechStarted,
)
from voxray.actors.conversation.live import LiveConversation, LiveSessionRequest
from voxray.actors.session import SessionActor
from voxray.actors.simulator.actor import SimulatorActor
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.rules import BrainRule, BrainScript
from voxray.actors.simulator.server import Simulator
from voxray.actors.tools.inprocess import InProcessToolBackend

from tests.conftest import TEST_SPEED


def _request(url: str, token: str, *, record: bool = False) -> LiveSessionRequest:
    return LiveSessionRequest(
        session_id="live",
        agent=AgentConfig(),
        endpoint=ProviderEndpoint(url=url, api_key=SecretStr(token)),
        tuning=EngineTuning(speed=TEST_SPEED),
        record=record,
    )


async def _until_final_transcript(live: LiveConversation) -> list[ConversationEvent]:
    seen: list[ConversationEvent] = []
    async for event in live.events():
        seen.append(event)
        if isinstance(event, ResponseFinished):
            return seen
    return seen


async def test_text_and_say_stream_typed_events(simulator: Simulator) -> None:
    token = simulator.register(BrainScript(rules=[BrainRule(heard="hours", reply="Nine to six.")]))
    live = LiveConversation(_request(simulator.url, token), InProcessToolBackend())
    await live.start()
    try:
        live.send_text("What are your hours?")
        events = await asyncio.wait_for(_until_final_transcript(live), timeout=20)
        finals = [e.text for e in events if isinstance(e, AgentTranscript) and e.final]
        assert finals and "nine to six" in finals[-1].lower()
        assert any(isinstance(e, AgentSpeechStarted) for e in events)

        live.say("This call may be recorded.")
        events = await asyncio.wait_for(_until_final_transcript(live), timeout=20)
        finals = [e.text for e in events if isinstance(e, AgentTranscript) and e.final]
        assert finals == ["This call may be recorded."]
    finally:
        result = await live.aclose()
    assert result.status == "completed"
    assert result.metrics.responses == 2 and result.metrics.audio_out_min > 0
    assert result.recording is None, "live sessions record only on request"
    assert await live.aclose() is result, "aclose is idempotent"


async def test_caller_audio_is_heard_by_server_vad(simulator: Simulator) -> None:
    live = LiveConversation(
        _request(simulator.url, simulator.register(BrainScript())), InProcessToolBackend()
    )
    await live.start()
    try:
        speech = SpeechSynthesizer().synthesize("Hello, is anybody there?")
        silence = bytes(speech.rate // 2 * 2)
        # A caller at 22.05 kHz stereo: the channel count is stated, never guessed.
        stereo = np.repeat(speech.samples, 2).tobytes()  # both channels the same
        live.send_audio(stereo, rate=speech.rate, channels=2)
        for _ in range(4):
            live.send_audio(silence, rate=speech.rate, channels=1)
        events = await asyncio.wait_for(_until_final_transcript(live), timeout=20)
        assert any(isinstance(e, UserSpeechStarted) for e in events)
    finally:
        await live.aclose()


@pytest.mark.ray
async def test_live_session_through_the_actor_streams_events(ray_cluster: None) -> None:
    from voxray.actors.tools.pool import ToolPool

    simulator = SimulatorActor.options(num_cpus=0).remote()
    session = SessionActor.remote()
    pool = ToolPool.start(1)
    try:
        url = await simulator.start.remote(SimulatorConfig(speed=TEST_SPEED))
        token = await simulator.register.remote(
            BrainScript(rules=[BrainRule(heard="hello", reply="Hi there.")])
        )
        await session.open.remote(_request(url, token), pool)
        await session.send_text.remote("hello")
        finals: list[str] = []
        async for ref in session.events.remote():
            event = await ref
            if isinstance(event, AgentTranscript) and event.final:
                finals.append(event.text)
            if isinstance(event, ResponseFinished):
                break
        assert finals == ["Hi there."]
        result = await session.close.remote()
        assert result.status == "completed" and result.metrics.responses == 1
    finally:
        pool.shutdown()
        ray.kill(session)
        await simulator.stop.remote()
        ray.kill(simulator)
