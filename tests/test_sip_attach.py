"""A conversation attached to a SIP call (``?call_id=``), against the simulator, without Ray.

The call's audio stays on the simulator's phone line; the conversation sees events only, the
DTMF keys, and the end of the call as the end of its socket.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import numpy as np
import pytest
from pydantic import SecretStr
from voxray.actors.conversation.agent import AgentConfig, AudioFormatConfig
from voxray.actors.conversation.collector import SessionCollector
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.engine import Conversation, EngineState
from voxray.actors.conversation.events import (
    AgentAudio,
    AgentSpeechStarted,
    ConversationEvent,
    DtmfReceived,
    ErrorOccurred,
)
from voxray.actors.conversation.live import LiveConversation, LiveSessionRequest
from voxray.actors.conversation.phone_audio import PhoneAudio
from voxray.actors.conversation.session_update import build_session_update
from voxray.actors.errors import AuthenticationError, ConnectionLostError, HandshakeError
from voxray.actors.realtime.client_events import ConversationItemCreate
from voxray.actors.realtime.items import ForceMessageItem, OutputText
from voxray.actors.simulator.faults import DropFault
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.simulator.server import Simulator
from voxray.actors.simulator.sip_line import LineState, SipLine
from voxray.actors.tools.executor import ToolExecutor
from voxray.actors.tools.inprocess import InProcessToolBackend

from tests.conftest import TEST_SPEED
from tests.test_sim_conformance import XAI_ONLY_TYPES, _ga_models, normalise


def _conversation(url: str, token: str, call_id: str) -> Conversation:
    return Conversation(
        AgentConfig(),
        ProviderEndpoint(url=url, api_key=SecretStr(token), call_id=call_id),
        EngineTuning(speed=TEST_SPEED),
        ToolExecutor((), InProcessToolBackend()),
        session_id=f"sip-{call_id}",
    )


def _ring(simulator: Simulator, call_id: str) -> SipLine:
    line = SipLine(call_id)
    simulator.lines.ring(line)
    return line


def test_phone_audio_sums_what_played_between_start_and_stop() -> None:
    played = PhoneAudio()
    played.started(100.0)
    played.started(150.0)  # a repeat while playing changes nothing
    played.stopped(600.0)
    played.stopped(700.0)  # nothing was playing
    played.started(1000.0)
    assert played.played_ms(1200.0) == 700.0  # the open interval counts up to now
    played.stopped(1100.0)  # cleared by a barge-in
    assert played.played_ms(5000.0) == 600.0


def test_the_attach_url_carries_the_call_id_and_no_model() -> None:
    endpoint = ProviderEndpoint(
        url="wss://api.x.ai/v1/realtime?model=x", api_key=SecretStr("k"), call_id="rtc_1"
    )
    assert endpoint.connect_url("grok-voice-latest") == "wss://api.x.ai/v1/realtime?call_id=rtc_1"
    plain = ProviderEndpoint(url="wss://api.x.ai/v1/realtime", api_key=SecretStr("k"))
    assert plain.connect_url("m").endswith("?model=m")


async def test_an_attached_call_reports_dtmf_and_ends_when_the_caller_hangs_up(
    simulator: Simulator,
) -> None:
    line = _ring(simulator, "rtc_keys")
    conversation = _conversation(simulator.url, simulator.register(BrainScript()), "rtc_keys")
    events: list[ConversationEvent] = []
    conversation.add_listener(events.append)
    collector = SessionCollector(conversation)
    await conversation.start()
    assert line.state is LineState.ATTACHED
    conversation.say("Hello caller")  # spoken to the phone line, not over the socket
    assert await line.wait_for_agent_audio(200, timeout_s=10)
    for digit in "7#":
        line.press(digit)
    line.hang_up()
    await asyncio.wait_for(conversation.wait_closed(), 10)
    assert conversation.state is EngineState.CLOSED and conversation.failure is None
    assert conversation.reconnects == 0
    assert [e.digit for e in events if isinstance(e, DtmfReceived)] == ["7", "#"]
    assert any(isinstance(e, AgentSpeechStarted) for e in events)
    assert not any(isinstance(e, AgentAudio) for e in events)  # none reached the socket
    played_ms = conversation.agent_audio_ms  # what xAI said it played on the phone
    assert played_ms > 0
    await asyncio.sleep(0.05)
    assert conversation.agent_audio_ms == played_ms  # the call is over: it no longer grows
    assert simulator.statistics()["accepted"] == 1  # ended, not reconnected
    await conversation.aclose()
    result = collector.result(conversation.failure, record=False)
    assert result.status == "completed" and result.metrics.dtmf_events == 2
    assert [t.detail["digit"] for t in result.timeline if t.kind == "dtmf_received"] == ["7", "#"]


async def test_a_dropped_call_socket_fails_the_call_without_reconnecting(
    simulator: Simulator,
) -> None:
    token = simulator.register(BrainScript())
    _ring(simulator, "rtc_drop")
    conversation = _conversation(simulator.url, token, "rtc_drop")
    await conversation.start()
    await simulator.inject(DropFault(after_s=0), token)
    await asyncio.wait_for(conversation.wait_closed(), 10)
    assert conversation.state is EngineState.FAILED
    assert isinstance(conversation.failure, ConnectionLostError)
    assert simulator.statistics()["accepted"] == 1
    await conversation.aclose()


async def test_client_audio_on_an_attached_call_is_refused_and_the_call_goes_on(
    simulator: Simulator,
) -> None:
    line = _ring(simulator, "rtc_audio")
    conversation = _conversation(simulator.url, simulator.register(BrainScript()), "rtc_audio")
    errors: list[ErrorOccurred] = []
    conversation.add_listener(lambda e: errors.append(e) if isinstance(e, ErrorOccurred) else None)
    await conversation.start()
    conversation.send_audio(np.zeros(2400, dtype=np.int16), rate=24_000, channels=1)
    for _ in range(500):
        if errors:
            break
        await asyncio.sleep(0.01)
    assert errors and "comes from the phone line" in errors[0].message
    assert not errors[0].fatal and conversation.state is EngineState.READY
    line.hang_up()
    await asyncio.wait_for(conversation.wait_closed(), 10)
    assert conversation.failure is None
    await conversation.aclose()


async def test_attaching_is_refused_for_unknown_taken_or_ephemeral_credentials(
    simulator: Simulator,
) -> None:
    token = simulator.register(BrainScript())
    unknown = _conversation(simulator.url, token, "rtc_nobody")
    with pytest.raises(HandshakeError) as missing:
        await unknown.start()
    assert missing.value.status == 404 and not missing.value.retryable
    await unknown.aclose()

    line = _ring(simulator, "rtc_taken")
    first = _conversation(simulator.url, token, "rtc_taken")
    await first.start()
    second = _conversation(simulator.url, token, "rtc_taken")
    with pytest.raises(HandshakeError) as taken:
        await second.start()
    assert taken.value.status == 409
    await second.aclose()
    line.hang_up()
    await asyncio.wait_for(first.wait_closed(), 10)
    await first.aclose()

    _ring(simulator, "rtc_ephemeral")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            simulator.url.replace("ws://", "http://") + "/client_secrets",
            headers={"Authorization": f"Bearer {token}"},
            json={"expires_after": {"seconds": 60}},
        ) as minted,
    ):
        secret = (await minted.json())["value"]
    ephemeral = _conversation(simulator.url, secret, "rtc_ephemeral")
    with pytest.raises(AuthenticationError):
        await ephemeral.start()
    await ephemeral.aclose()


async def test_a_live_session_on_a_call_streams_events_until_the_caller_hangs_up(
    simulator: Simulator,
) -> None:
    line = _ring(simulator, "rtc_live")
    request = LiveSessionRequest(
        session_id="live-sip",
        agent=AgentConfig(),
        endpoint=ProviderEndpoint(
            url=simulator.url,
            api_key=SecretStr(simulator.register(BrainScript())),
            call_id="rtc_live",
        ),
        tuning=EngineTuning(speed=TEST_SPEED),
    )
    live = LiveConversation(request, InProcessToolBackend())
    await live.start()
    line.press("5")
    line.hang_up()

    async def until_the_stream_ends() -> list[ConversationEvent]:
        return [event async for event in live.events()]

    seen = await asyncio.wait_for(until_the_stream_ends(), 10)  # it ends with the call
    assert [e.digit for e in seen if isinstance(e, DtmfReceived)] == ["5"]
    result = await live.aclose()
    assert result.status == "completed" and result.metrics.dtmf_events == 1


async def test_every_event_of_an_attached_call_conforms_to_the_ga_types(
    simulator: Simulator,
) -> None:
    """The SIP-only events (``output_audio_buffer.*``, DTMF) as an OpenAI-GA-typed client
    would read them, and no audio on the socket."""
    line = _ring(simulator, "rtc_conform")
    telephone = AudioFormatConfig(encoding="pcmu", rate=8000)
    agent = AgentConfig(input_audio=telephone, output_audio=telephone)
    frames: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        token = simulator.register(BrainScript())
        auth = {"Authorization": f"Bearer {token}"}
        ws = await http.ws_connect(f"{simulator.url}?call_id=rtc_conform", headers=auth)

        async def read_until(kind: str | None) -> None:
            async for message in ws:
                frames.append(json.loads(message.data))
                if frames[-1]["type"] == kind:
                    return

        await ws.send_str(build_session_update(agent).to_json())
        await read_until("session.updated")
        say = ForceMessageItem(content=[OutputText(text="Hello caller")])
        await ws.send_str(ConversationItemCreate(item=say).to_json())
        await read_until("output_audio_buffer.stopped")
        line.press("4")
        await read_until("input_audio_buffer.dtmf_event_received")
        line.hang_up()
        await read_until(None)  # to the close
        assert ws.close_code == 1000
    kinds = {frame["type"] for frame in frames}
    assert "response.output_audio.delta" not in kinds
    models = _ga_models()
    used: set[str] = set()
    for frame in frames:
        if frame["type"] in XAI_ONLY_TYPES:
            continue
        models[frame["type"]].model_validate(normalise(frame, used))
